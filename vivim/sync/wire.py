"""JSON for sync pages: orjson (several times faster than the standard library on the large
pages of an initial sync), the standard library for what orjson cannot write. Both produce
plain JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:
        # e.g. an integer beyond 64 bits: the standard library writes it
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


__all__ = ["dumps", "loads"]
