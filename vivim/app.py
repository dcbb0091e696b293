"""Composition root: settings -> master DB + user DB router -> the operations on users.

``Vivim`` is the small public Python API: open a data directory, create and find users,
get a user's store. Interfaces (CLI, API, MCP) build one ``Vivim`` and call into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vivim.domain.errors import CorruptDatabase, InvalidIdentifier, NotFound
from vivim.domain.ids import looks_like_user_id, new_id, validate_user_id, validate_user_name
from vivim.domain.times import utcnow
from vivim.identity.keys import KeyPair, KeyVault, generate_keypair
from vivim.settings import Settings
from vivim.store.master import users as master_users
from vivim.store.master.db import MasterDB
from vivim.store.user.db import UserStore
from vivim.store.user.migrations import HEAD as USER_SCHEMA_HEAD
from vivim.store.user.migrations import MIGRATIONS as USER_MIGRATIONS
from vivim.store.user.router import UserRouter

if TYPE_CHECKING:
    from vivim.embed.base import Embedder
    from vivim.search.engine import SearchEngine
    from vivim.search.indexer import Indexer


@dataclass(frozen=True)
class UserRecord:
    id: str
    handle: str | None
    did: str
    email: str | None
    display_name: str | None
    status: str
    created_at: datetime | None
    public_key: str
    key_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "handle": self.handle,
            "did": self.did,
            "email": self.email,
            "display_name": self.display_name,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "public_key": self.public_key,
            "key_type": self.key_type,
        }


def _record(row: Any) -> UserRecord:
    status = row.status
    return UserRecord(
        id=row.id,
        handle=row.handle,
        did=row.did,
        email=row.email,
        display_name=row.display_name,
        status=getattr(status, "value", status),
        created_at=row.created_at,
        public_key=row.public_key,
        key_type=row.key_type,
    )


class Vivim:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.master = MasterDB(settings.master_url)
        self.router = UserRouter(settings.users_dir, max_open=settings.max_open_user_dbs)
        self._keys: KeyVault | None = None
        self._embedder: Embedder | None = None
        self._ready = False

    # -- lifecycle -----------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create the data directory and bring the master DB to head. Idempotent.
        Returns the master migrations applied."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings.users_dir.mkdir(parents=True, exist_ok=True)
        pending = self.master.pending_revisions()
        if pending:
            self.master.upgrade()
        self._ready = True
        return pending

    def ensure_ready(self) -> None:
        if not self._ready:
            self.init()

    def close(self) -> None:
        self.router.close_all()
        self.master.dispose()

    def __enter__(self) -> Vivim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def embedder(self) -> Embedder:
        """The local embedding model (loaded on first use, shared by every user)."""
        if self._embedder is None:
            from vivim.embed.minilm import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        return self._embedder

    def search_engine(self) -> SearchEngine:
        from vivim.search.engine import SearchEngine

        return SearchEngine(self.embedder)

    def indexer(self, user: UserRecord, *, progress: Any = None, embed: bool = True) -> Indexer:
        from vivim.search.indexer import Indexer

        return Indexer(
            self.store(user), keypair=self.keypair(user), embedder=self.embedder if embed else None, progress=progress
        )

    @property
    def keys(self) -> KeyVault:
        if self._keys is None:
            self._keys = KeyVault.for_data_dir(self.settings.data_dir)
        return self._keys

    # -- users ---------------------------------------------------------------------------
    def create_user(
        self,
        name: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        keypair: KeyPair | None = None,
    ) -> UserRecord:
        """Create a user: key pair and DID, their own DB file, and the master rows.

        The file is created first and removed again if the master rows cannot be written,
        so a failure never leaves a user without a vault or a vault without a user.
        """
        self.ensure_ready()
        handle = validate_user_name(name)
        if email is not None and ("@" not in email or len(email) > 254 or "\x00" in email):
            raise InvalidIdentifier(f"{email!r} is not a valid email address")
        kp = keypair or generate_keypair()
        user_id = new_id()
        did = kp.did
        encrypted = self.keys.encrypt(kp.private_key, user_id=user_id, did=did)
        now = utcnow()
        self.router.create(user_id, did)
        try:
            # One master transaction for the identity row and the placement row.
            with self.master.connect() as c:
                master_users.insert_user(
                    c,
                    id=user_id,
                    did=did,
                    handle=handle,
                    email=email,
                    display_name=display_name,
                    public_key=kp.public_key_b64,
                    encrypted_private_key=encrypted,
                    now=now,
                )
                master_users.set_user_database(
                    c,
                    user_id=user_id,
                    path=self.router.relative_path(user_id),
                    schema_version=USER_SCHEMA_HEAD,
                    now=now,
                )
        except BaseException:
            self.router.delete(user_id)
            raise
        return UserRecord(
            id=user_id,
            handle=handle,
            did=did,
            email=email,
            display_name=display_name,
            status="ACTIVE",
            created_at=now,
            public_key=kp.public_key_b64,
            key_type="Ed25519",
        )

    def get_user(self, name_or_id: str) -> UserRecord:
        """Find a user by handle, id or DID."""
        self.ensure_ready()
        if not isinstance(name_or_id, str) or not name_or_id:
            raise InvalidIdentifier("a user name or id is required (use --user or VIVIM_USER)")
        with self.master.connect() as s:
            row = None
            if looks_like_user_id(name_or_id):
                row = master_users.get_user_by_id(s, name_or_id)
            if row is None and name_or_id.startswith("did:"):
                row = master_users.get_user_by_did(s, name_or_id)
            if row is None:
                validate_user_name(name_or_id)
                row = master_users.get_user_by_handle(s, name_or_id)
            if row is None:
                raise NotFound(f"no user named {name_or_id!r}; see `vivim user list`")
            return _record(row)

    def list_users(self) -> list[UserRecord]:
        self.ensure_ready()
        with self.master.connect() as c:
            return [_record(r) for r in master_users.list_users(c)]

    def delete_user(self, name_or_id: str) -> UserRecord:
        """Remove the user's master rows (cascading to devices, memberships...) and file."""
        user = self.get_user(name_or_id)
        with self.master.connect() as c:
            master_users.delete_user(c, user_id=user.id)
        self.router.delete(user.id)
        return user

    def export_user(self, name_or_id: str, destination: Path) -> Path:
        user = self.get_user(name_or_id)
        return self.router.export(user.id, destination)

    def store(self, user: UserRecord | str) -> UserStore:
        """The user's store (their own DB file, opened and migrated to head)."""
        user_id = user.id if isinstance(user, UserRecord) else validate_user_id(user)
        try:
            return self.router.open(user_id)
        except CorruptDatabase:
            raise
        except FileNotFoundError as exc:
            raise CorruptDatabase(f"the database of user {user_id} is missing") from exc

    def keypair(self, user: UserRecord) -> KeyPair:
        with self.master.connect() as c:
            row = master_users.get_user_by_id(c, user.id)
            if row is None:
                raise NotFound(f"no user {user.id}")
            return self.keys.decrypt(row.encrypted_private_key, user_id=user.id, did=user.did)

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        master_current = self.master.current_revision()
        master_pending = self.master.pending_revisions()
        users = self.list_users() if master_current is not None and not master_pending else []
        versions: dict[int, int] = {}
        problems: list[dict[str, str]] = []
        for u in users:
            try:
                v = _file_schema_version(self.router.path_for(u.id))
                versions[v] = versions.get(v, 0) + 1
            except CorruptDatabase as exc:
                problems.append({"user": u.handle or u.id, "error": str(exc)})
        return {
            "data_dir": str(self.settings.data_dir),
            "master": {
                "url": self.master.url_for_display,
                "current_revision": master_current,
                "head_revision": self.master.head_revision(),
                "pending_migrations": master_pending,
            },
            "users": len(users),
            "user_db": {
                "head_version": USER_SCHEMA_HEAD,
                "head_migration": USER_MIGRATIONS[-1].name,
                "versions": {str(k): v for k, v in sorted(versions.items())},
                "behind_head": sum(n for v, n in versions.items() if v < USER_SCHEMA_HEAD),
                "problems": problems,
            },
        }


def _file_schema_version(path: Path) -> int:
    """Read a user DB's schema version without opening (or migrating) it as a store."""
    import sqlite3

    from vivim.store.user.db import check_header

    check_header(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabase(f"user database {path} cannot be read: {exc}") from exc
    finally:
        conn.close()


def open_vivim(
    data_dir: Path | str | None = None, *, master_url: str | None = None, max_open_user_dbs: int | None = None
) -> Vivim:
    """Open (without creating anything yet) the vivim instance in ``data_dir``."""
    return Vivim(Settings.load(data_dir, master_url=master_url, max_open_user_dbs=max_open_user_dbs))


__all__ = ["Vivim", "UserRecord", "open_vivim"]
