"""JSON for sync pages: orjson when it is installed (several times faster on the large
pages of an initial sync), the standard library otherwise. Both produce plain JSON."""

from __future__ import annotations

import json
from typing import Any

try:  # optional: not a declared dependency
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]


def dumps(data: Any) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(data)
        except TypeError:
            pass  # e.g. an integer beyond 64 bits: the standard library writes it
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


__all__ = ["dumps", "loads"]
