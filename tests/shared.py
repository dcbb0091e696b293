"""The one way tests reach ../shared/fixtures: skip cleanly where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VIVIM_SHARED_DIR", _REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"


def shared_file(relative: str) -> Path:
    """Path of a file under shared/ (seeds, design), or skip the test if it is not there."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"shared file {relative} not available ({SHARED} missing)")
    return path


def shared_fixture(relative: str) -> Path:
    """Path of a file under shared/fixtures, or skip the test if it is not there."""
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} not available ({FIXTURES} missing)")
    return path
