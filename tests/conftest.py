"""Every test gets its own data directory; nothing touches the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vivim.app import Vivim, open_vivim


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVIM_DATA_DIR", str(tmp_path / "data"))
    for var in ("VIVIM_USER", "VIVIM_MASTER_URL", "VIVIM_SECRET_KEY", "VIVIM_MAX_OPEN_USER_DBS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def vivim(tmp_path: Path) -> Iterator[Vivim]:
    v = open_vivim(tmp_path / "data")
    v.init()
    try:
        yield v
    finally:
        v.close()
