"""Identifiers: generation, validation and deterministic derivation."""

from __future__ import annotations

import hashlib
import re
import uuid

from vivim.domain.errors import InvalidIdentifier

MAX_NAME_LENGTH = 64
# Handles are what people type; they also end up in URLs and log lines, so keep them plain.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_USER_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    """A random 128-bit id as 32 lowercase hex characters (UUID4 without dashes)."""
    return uuid.uuid4().hex


def derived_id(*parts: str) -> str:
    """A deterministic id from its parts: re-deriving from the same inputs gives the same id.

    Used where re-importing the same source must land on the same row (conversations,
    messages, units). Parts are joined with a separator that cannot occur in them.
    """
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def validate_user_name(name: object) -> str:
    """Return ``name`` if it is a usable handle, else raise :class:`InvalidIdentifier`."""
    if not isinstance(name, str) or name == "":
        raise InvalidIdentifier("user name must not be empty")
    if "\x00" in name:
        raise InvalidIdentifier("user name must not contain NUL characters")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidIdentifier(f"user name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if "/" in name or "\\" in name or name in {".", ".."} or ".." in name:
        raise InvalidIdentifier(f"user name {name!r} looks like a path; use letters, digits, '_', '-', '.'")
    if not _NAME_RE.match(name):
        raise InvalidIdentifier(
            f"user name {name!r} may only contain letters, digits, '_', '-' and '.', "
            "and must start with a letter or digit"
        )
    return name


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` if it is a well-formed user id (it reaches a file path)."""
    if not isinstance(user_id, str) or not _USER_ID_RE.match(user_id):
        shown = repr(user_id)[:80]
        raise InvalidIdentifier(f"{shown} is not a valid user id (32 lowercase hex characters)")
    return user_id


def looks_like_user_id(value: str) -> bool:
    return bool(_USER_ID_RE.match(value))
