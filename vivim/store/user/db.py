"""Opening a user DB: pragmas, integrity of the header, ownership, migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vivim.domain.errors import CorruptDatabase, InvalidIdentifier, SchemaTooNew
from vivim.domain.times import to_iso, utcnow
from vivim.store.user import oplog
from vivim.store.user.migrations import HEAD, MIGRATIONS

BUSY_TIMEOUT_MS = 5000
# 2 KiB pages keep an empty vault (about 80 tables and indexes, one page each) near
# 170 KB instead of 330 KB at the default 4 KiB, and cost little on the row sizes we store.
PAGE_SIZE = 2048

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # WAL makes readers and the writer not block each other; NORMAL is durable across
    # application crashes (a power cut can lose the last commits, never corrupt the file).
    conn.execute("PRAGMA synchronous = NORMAL")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (see UserStore.transaction).
    return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)


def applied_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = HEAD) -> list[str]:
    """Apply pending migrations up to ``target``; returns the names applied."""
    current = applied_version(conn)
    if current > HEAD:
        raise SchemaTooNew(
            f"user DB is at schema version {current}, this vivim knows up to {HEAD}; upgrade vivim"
        )
    applied: list[str] = []
    if current >= target:
        return applied
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for number in range(current + 1, target + 1):
        migration = MIGRATIONS[number - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, to_iso(utcnow())),
            )
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied


def create_database(path: Path, *, target: int = HEAD) -> None:
    """Create a new, empty user DB file at ``path`` migrated to ``target``.

    It is left in rollback-journal mode so that copies of it can be stamped without
    creating WAL side files; ``open_store`` switches it to WAL on first open.
    """
    conn = _connect(path)
    try:
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _configure(conn)
        migrate(conn, target)
    finally:
        conn.close()


def check_header(path: Path) -> None:
    """Refuse files that are not SQLite databases before SQLite gets to them."""
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        raise CorruptDatabase(f"user database {path} is missing") from None
    if magic != _SQLITE_MAGIC:
        raise CorruptDatabase(
            f"user database {path} is not a SQLite database (damaged or overwritten); "
            "restore it from a backup or an export. vivim will not recreate it."
        )


class UserStore:
    """One user's open database. All access goes through ``read()`` or ``transaction()``.

    A store is shared between threads (the API server), so a lock serialises use of the
    one connection; SQLite itself serialises writers anyway.
    """

    def __init__(self, user_id: str, path: Path, conn: sqlite3.Connection) -> None:
        self.user_id = user_id
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self.closed = False
        # Derived in-memory state that lives exactly as long as this open store (e.g. the
        # search vector matrix); features own their keys.
        self.memo: dict[str, Any] = {}

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls become savepoints (inner failure rolls back
        only the inner block)."""
        with self._lock:
            self._check_open()
            conn = self._conn
            log_mark: int | None = None
            if self._depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                begin, commit, rollback = None, "COMMIT", "ROLLBACK"
                # Where the sync log stood, so the commit can stamp what this transaction
                # logged with one clock tick (vivim.store.user.oplog).
                log_mark = oplog.mark(conn)
            else:
                name = f"sp{self._depth}"
                begin = f"SAVEPOINT {name}"
                commit = f"RELEASE {name}"
                rollback = f"ROLLBACK TO {name}; RELEASE {name}"
                conn.execute(begin)
            self._depth += 1
            try:
                yield conn
            except BaseException:
                self._depth -= 1
                for stmt in rollback.split("; "):
                    conn.execute(stmt)
                raise
            else:
                self._depth -= 1
                if self._depth == 0:
                    try:
                        oplog.stamp(conn, log_mark)
                    except BaseException:
                        conn.execute(rollback)
                        raise
                conn.execute(commit)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def schema_version(self) -> int:
        with self.read() as conn:
            return applied_version(conn)

    def try_close(self) -> bool:
        """Close unless another thread is using the store right now."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if not self.closed:
                self._conn.close()
                self.closed = True
            return True
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self._conn.close()
                self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise CorruptDatabase(f"user database {self.path} was closed")


def open_store(path: Path, user_id: str) -> UserStore:
    """Open an existing user DB, check it belongs to ``user_id``, migrate it to head."""
    check_header(path)
    conn = _connect(path)
    try:
        try:
            _configure(conn)
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")  # persistent: only on first open
            version = applied_version(conn)
            if version < HEAD:
                migrate(conn)
            row = conn.execute("SELECT value FROM vault_meta WHERE key = 'owner_user_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CorruptDatabase(f"user database {path} cannot be read: {exc}") from exc
        if row is None:
            raise CorruptDatabase(f"user database {path} has no owner record")
        if row[0] != user_id:
            # Isolation by construction: a file is only ever served to its owner.
            raise InvalidIdentifier(f"user database {path} does not belong to user {user_id}")
    except BaseException:
        conn.close()
        raise
    return UserStore(user_id, path, conn)


def stamp_owner(path: Path, user_id: str, owner_did: str) -> None:
    """Record the owner in a fresh copy of the template that nobody else can see yet.

    No journal and no sync: the file is not at its final path until this returns, so a
    crash here leaves only a temporary file behind, and skipping the journal keeps user
    creation to a couple of milliseconds.
    """
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        if applied_version(conn) < HEAD:
            migrate(conn)
        conn.executemany(
            "INSERT INTO vault_meta (key, value) VALUES (?, ?)",
            [("owner_user_id", user_id), ("owner_did", owner_did), ("created_at", to_iso(utcnow()))],
        )
    finally:
        conn.close()
