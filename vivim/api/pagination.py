"""Opaque cursors for keyset pagination.

A cursor is base64url(JSON ``{"k": kind, "v": [...]}``): the sort key of the last item a
client saw, tagged with the listing it belongs to so that a cursor from one listing is
refused by another. Clients treat it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from vivim.api.errors import ApiError
from vivim.domain.times import parse_time

MAX_CURSOR = 512

Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
CursorParam = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR, description="`next_cursor` from the previous page; omit for the first page."),
]


def encode_cursor(kind: str, values: list[Any]) -> str:
    raw = json.dumps({"k": kind, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None, kind: str, arity: int) -> list[Any] | None:
    """The values of a cursor made by ``encode_cursor(kind, ...)``, or None for no cursor."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_cursor", "the cursor is not one this server issued") from None
    if (
        not isinstance(data, dict)
        or data.get("k") != kind
        or not isinstance(data.get("v"), list)
        or len(data["v"]) != arity
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in data["v"])
    ):
        raise ApiError(422, "invalid_cursor", "the cursor does not belong to this listing")
    return data["v"]


def time_key(values: list[Any] | None) -> tuple[datetime, str] | None:
    """A decoded (timestamp, id) cursor as a datetime and an id."""
    if values is None:
        return None
    when = parse_time(values[0]) if isinstance(values[0], str) else None
    if when is None:
        raise ApiError(422, "invalid_cursor", "the cursor does not belong to this listing")
    return when, str(values[1])
