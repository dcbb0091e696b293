"""Canonical JSON and content hashes (stable across runs, machines and Python versions)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, non-ASCII kept as UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    """A short tagged hash of ``value``'s canonical JSON (128-bit BLAKE2b, hex)."""
    data = value.encode("utf-8") if isinstance(value, str) else canonical_json(value).encode("utf-8")
    return hashlib.blake2b(data, digest_size=16).hexdigest()
