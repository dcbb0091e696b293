"""Timestamps: everything vivim stores is UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: object) -> datetime | None:
    """Parse the timestamp shapes exports use: epoch seconds/milliseconds or ISO 8601.

    Returns None for missing or unparseable values rather than raising: a bad timestamp
    must not cost the user a conversation.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        if v > 1e11:  # milliseconds
            v /= 1000.0
        try:
            return datetime.fromtimestamp(v, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        s = value.strip()
        try:
            return parse_time(float(s))
        except ValueError:
            pass
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    return None


def to_iso(dt: datetime | None) -> str | None:
    """ISO 8601 with microseconds and a Z suffix, so strings sort as times."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    elif dt.utcoffset():
        dt = dt.astimezone(UTC)
    # isoformat is several times faster than strftime, and this runs per imported message.
    return dt.isoformat(timespec="microseconds")[:26] + "Z"


def date_words(iso: str | None) -> str:
    """A timestamp as people write dates ("7 July 2023"), so full-text search can match a
    question's month or year as words. Empty when unknown."""
    dt = parse_time(iso) if iso else None
    return f"{dt.day} {dt:%B} {dt.year}" if dt else ""
