"""User rows and the placement of each user's database: the hot path of account creation.

Plain functions over a Session or Connection, written with SQLAlchemy Core (no ORM unit of
work), because creating a user has to stay in the low milliseconds. The caller owns the
transaction: ``with master.connect() as conn: insert_user(conn, ...); set_user_database(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vivim.domain.errors import AlreadyExists, NotFound, VivimError
from vivim.domain.ids import validate_user_id, validate_user_name
from vivim.domain.times import utcnow
from vivim.store.master.models import AccountStatus, User, UserDatabase

Executor = Session | Connection

_users = User.__table__
_user_dbs = UserDatabase.__table__
_UNIQUE_USER_FIELDS = ("did", "handle", "email")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    did: str
    handle: str | None
    display_name: str | None
    email: str | None
    email_verified: bool
    avatar_url: str | None
    public_key: str
    key_type: str
    encrypted_private_key: str | None
    verification_level: int
    trust_score: float
    status: AccountStatus
    mfa_enabled: bool
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class UserDatabaseRecord:
    user_id: str
    path: str
    schema_version: int
    size_bytes: int | None
    node: str
    created_at: datetime
    updated_at: datetime


# mfa_secret is deliberately not selected: nothing that lists or looks up users needs it.
_USER_COLUMNS = [_users.c[name] for name in UserRecord.__dataclass_fields__]
_USER_DB_COLUMNS = [_user_dbs.c[name] for name in UserDatabaseRecord.__dataclass_fields__]


def _user(row: Row[Any] | None) -> UserRecord | None:
    return None if row is None else UserRecord(**row._mapping)


def _conflict(error: IntegrityError, what: str) -> AlreadyExists:
    # Both engines name the column or the index (ix_users_<field>) in the message.
    message = str(error.orig)
    for field in _UNIQUE_USER_FIELDS:
        if f"users.{field}" in message or f"ix_users_{field}" in message:
            return AlreadyExists(f"a user with this {field} already exists")
    if "pk_users" in message or "users.id" in message:
        return AlreadyExists("a user with this id already exists")
    return AlreadyExists(f"{what} conflicts with an existing row")


def insert_user(
    conn: Executor,
    *,
    id: str,
    did: str,
    handle: str,
    public_key: str,
    email: str | None = None,
    display_name: str | None = None,
    avatar_url: str | None = None,
    key_type: str = "Ed25519",
    encrypted_private_key: str | None = None,
    settings: dict[str, Any] | None = None,
    status: AccountStatus = AccountStatus.ACTIVE,
    now: datetime | None = None,
) -> str:
    """Insert a user and return its id; :class:`AlreadyExists` names the clashing field.

    A clash leaves the caller's transaction unusable on PostgreSQL; let it roll back.
    """
    validate_user_id(id)  # the id becomes part of the user's database path
    validate_user_name(handle)
    at = now or utcnow()
    try:
        conn.execute(
            insert(_users),
            {
                "id": id,
                "did": did,
                "handle": handle,
                "public_key": public_key,
                "email": email,
                "display_name": display_name,
                "avatar_url": avatar_url,
                "key_type": key_type,
                "encrypted_private_key": encrypted_private_key,
                "settings": settings if settings is not None else {},
                "status": status,
                "created_at": at,
                "updated_at": at,
                "last_seen_at": at,
            },
        )
    except IntegrityError as e:
        raise _conflict(e, f"user {handle!r}") from e
    return id


def get_user_by_id(conn: Executor, user_id: str) -> UserRecord | None:
    return _user(conn.execute(select(*_USER_COLUMNS).where(_users.c.id == user_id)).first())


def get_user_by_handle(conn: Executor, handle: str) -> UserRecord | None:
    return _user(conn.execute(select(*_USER_COLUMNS).where(_users.c.handle == handle)).first())


def get_user_by_did(conn: Executor, did: str) -> UserRecord | None:
    return _user(conn.execute(select(*_USER_COLUMNS).where(_users.c.did == did)).first())


def list_users(
    conn: Executor,
    *,
    limit: int | None = None,
    after_handle: str | None = None,
    status: AccountStatus | None = None,
) -> list[UserRecord]:
    """Users ordered by handle (all of them unless ``limit`` is given).

    To page, pass the last handle seen as ``after_handle``. Users without a handle (only
    possible through raw SQL; ``insert_user`` requires one) sort last on both engines.
    """
    query = select(*_USER_COLUMNS).order_by(_users.c.handle.asc().nulls_last(), _users.c.id)
    if limit is not None:
        query = query.limit(limit)
    if after_handle is not None:
        query = query.where(_users.c.handle > after_handle)
    if status is not None:
        query = query.where(_users.c.status == status)
    return [UserRecord(**row._mapping) for row in conn.execute(query)]


def count_users(conn: Executor) -> int:
    return int(conn.execute(select(func.count()).select_from(_users)).scalar_one())


def delete_user(conn: Executor, *, user_id: str) -> None:
    """Delete a user; the database cascades to devices, memberships, placement and edges.

    The user's own SQLite file is not touched here: removing it is the user store's job,
    after this transaction commits.
    """
    result = conn.execute(delete(_users).where(_users.c.id == user_id))
    if result.rowcount == 0:
        raise NotFound(f"no user with id {user_id!r}")


def _upsert(conn: Executor) -> Any:
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_user_dbs)
    if dialect == "sqlite":
        return sqlite.insert(_user_dbs)
    raise VivimError(f"the master DB supports SQLite and PostgreSQL, not {dialect}")


def set_user_database(
    conn: Executor,
    *,
    user_id: str,
    path: str,
    schema_version: int,
    size_bytes: int | None = None,
    node: str = "local",
    now: datetime | None = None,
) -> None:
    """Record (or update) where a user's database lives and which schema version it has."""
    at = now or utcnow()
    stmt = _upsert(conn)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_user_dbs.c.user_id],
        set_={
            "path": stmt.excluded.path,
            "schema_version": stmt.excluded.schema_version,
            "size_bytes": stmt.excluded.size_bytes,
            "node": stmt.excluded.node,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    try:
        conn.execute(
            stmt,
            {
                "user_id": user_id,
                "path": path,
                "schema_version": schema_version,
                "size_bytes": size_bytes,
                "node": node,
                "created_at": at,
                "updated_at": at,
            },
        )
    except IntegrityError as e:
        message = str(e.orig).lower()
        if "foreign key" in message:
            raise NotFound(f"no user with id {user_id!r}") from e
        if "path" in message:
            raise AlreadyExists(f"database path {path!r} already belongs to another user") from e
        raise


def get_user_database(conn: Executor, user_id: str) -> UserDatabaseRecord | None:
    row = conn.execute(select(*_USER_DB_COLUMNS).where(_user_dbs.c.user_id == user_id)).first()
    return None if row is None else UserDatabaseRecord(**row._mapping)
