"""Bearer token formats and personal API tokens.

Every token is ``<kind prefix><43 base64url characters>`` (32 random bytes). The prefix says
what the token is (``vat_`` access, ``vrt_`` refresh, ``vpt_`` personal API token), so a
leaked token is recognisable by secret scanners and a refresh token can never be taken for
an access token. The server keeps only ``sha256(token)`` in hex and finds a token by that
hash: 256 random bits need no slow password hash, and a copy of the database lets nobody
act as a user.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from vivim.domain.errors import InvalidIdentifier, NotFound
from vivim.domain.ids import new_id
from vivim.domain.times import utcnow
from vivim.store.master.models import ApiToken

ACCESS_PREFIX = "vat_"
REFRESH_PREFIX = "vrt_"
API_TOKEN_PREFIX = "vpt_"
_TOKEN_RE = re.compile(r"^v[arp]t_[A-Za-z0-9_-]{43}$")
SHOWN_PREFIX_LENGTH = 12
MAX_TOKEN_NAME = 255
MAX_TOKEN_DAYS = 3650

_tokens = ApiToken.__table__


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh token and its hash: (plaintext, sha256 hex)."""
    token = prefix + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str, prefix: str) -> bool:
    return token.startswith(prefix) and bool(_TOKEN_RE.match(token))


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: str
    user_id: str
    name: str
    token_prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "token_prefix": self.token_prefix,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "is_active": self.is_active,
        }


_COLUMNS = [_tokens.c[name] for name in ApiTokenRecord.__dataclass_fields__]


def _record(row: Any) -> ApiTokenRecord:
    return ApiTokenRecord(**row._mapping)


def validate_token_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidIdentifier("a token needs a name (what it is for)")
    if len(name) > MAX_TOKEN_NAME or "\x00" in name:
        raise InvalidIdentifier(f"a token name is at most {MAX_TOKEN_NAME} characters, without NUL")
    return name.strip()


def create_api_token(
    conn: Connection, *, user_id: str, name: str, expires_in_days: int | None = None
) -> tuple[ApiTokenRecord, str]:
    """Create a personal API token; returns the record and the plaintext (shown once)."""
    name = validate_token_name(name)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidIdentifier(f"expires_in_days must be between 1 and {MAX_TOKEN_DAYS}")
    plaintext, digest = new_token(API_TOKEN_PREFIX)
    now = utcnow()
    values = {
        "id": new_id(),
        "user_id": user_id,
        "name": name,
        "token_hash": digest,
        "token_prefix": plaintext[:SHOWN_PREFIX_LENGTH],
        "created_at": now,
        "expires_at": now + timedelta(days=expires_in_days) if expires_in_days else None,
        "last_used_at": None,
        "revoked_at": None,
    }
    conn.execute(insert(_tokens), values)
    return ApiTokenRecord(**{k: values[k] for k in ApiTokenRecord.__dataclass_fields__}), plaintext


def list_api_tokens(
    conn: Connection,
    *,
    user_id: str,
    include_revoked: bool = True,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[ApiTokenRecord]:
    """The user's tokens, newest first; ``after`` is the (created_at, id) of the last seen."""
    q = select(*_COLUMNS).where(_tokens.c.user_id == user_id)
    if not include_revoked:
        q = q.where(_tokens.c.revoked_at.is_(None))
    if after is not None:
        created, token_id = after
        q = q.where(
            (_tokens.c.created_at < created) | ((_tokens.c.created_at == created) & (_tokens.c.id < token_id))
        )
    q = q.order_by(_tokens.c.created_at.desc(), _tokens.c.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return [_record(r) for r in conn.execute(q)]


def get_api_token(conn: Connection, *, user_id: str, token_id: str) -> ApiTokenRecord:
    """One of the user's tokens; another user's token is :class:`NotFound`, as is a missing one."""
    row = conn.execute(
        select(*_COLUMNS).where(_tokens.c.id == token_id, _tokens.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"no API token {token_id!r}")
    return _record(row)


def revoke_api_token(conn: Connection, *, user_id: str, token_id: str) -> ApiTokenRecord:
    """Revoke a token (idempotent); it stops working on the next request."""
    token = get_api_token(conn, user_id=user_id, token_id=token_id)
    if token.revoked_at is None:
        conn.execute(
            update(_tokens)
            .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return get_api_token(conn, user_id=user_id, token_id=token_id)


__all__ = [
    "ACCESS_PREFIX",
    "API_TOKEN_PREFIX",
    "REFRESH_PREFIX",
    "ApiTokenRecord",
    "create_api_token",
    "get_api_token",
    "hash_token",
    "list_api_tokens",
    "looks_like_token",
    "new_token",
    "revoke_api_token",
]
