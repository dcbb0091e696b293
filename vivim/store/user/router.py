"""User id -> the user's SQLite file, with a bounded cache of open stores."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from vivim.domain.errors import AlreadyExists, CorruptDatabase
from vivim.domain.ids import validate_user_id
from vivim.store.user.db import UserStore, check_header, create_database, open_store, stamp_owner
from vivim.store.user.migrations import HEAD

DEFAULT_MAX_OPEN = 128


class UserRouter:
    """Finds, creates, opens, exports and deletes user DB files under ``users_dir``.

    Layout: ``users_dir/<id[:2]>/<id>.sqlite``: 256 shard folders keep directories small
    at millions of users, and the path is derived from the id alone, so routing needs no
    lookup. Every id is validated before it reaches a path.
    """

    def __init__(self, users_dir: Path, max_open: int = DEFAULT_MAX_OPEN) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.users_dir = users_dir
        self.max_open = max_open
        self._open: OrderedDict[str, UserStore] = OrderedDict()
        self._lock = threading.Lock()
        self._template: Path | None = None

    # -- paths ---------------------------------------------------------------------------
    def relative_path(self, user_id: str) -> str:
        validate_user_id(user_id)
        return f"{user_id[:2]}/{user_id}.sqlite"

    def path_for(self, user_id: str) -> Path:
        return self.users_dir / self.relative_path(user_id)

    def exists(self, user_id: str) -> bool:
        return self.path_for(user_id).exists()

    # -- create --------------------------------------------------------------------------
    def _template_path(self) -> Path:
        """An empty DB at head, built once and copied for each new user: copying ~170 KB
        is far cheaper than running every CREATE statement per user."""
        if self._template is not None and self._template.exists():
            return self._template
        template = self.users_dir / f".template-v{HEAD}.sqlite"
        if not template.exists():
            self.users_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.users_dir / f".template-v{HEAD}.{os.getpid()}.{threading.get_ident()}.tmp"
            create_database(tmp)
            os.replace(tmp, template)  # atomic: concurrent processes never see half a file
        self._template = template
        return template

    def create(self, user_id: str, owner_did: str) -> Path:
        """Create the user's DB file (owned by ``user_id``) and return its path.

        The file is completed under a temporary name and renamed into place, so a crash
        never leaves half a file at the user's path. It is not opened here: the first
        ``open`` switches it to WAL and caches the connection.
        """
        path = self.path_for(user_id)
        if path.exists():
            raise AlreadyExists(f"a database for user {user_id} already exists at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        try:
            shutil.copyfile(self._template_path(), tmp)
            stamp_owner(tmp, user_id, owner_did)
            os.replace(tmp, path)
        except BaseException:
            _unlink_db_files(tmp)
            raise
        return path

    # -- open / cache --------------------------------------------------------------------
    def open(self, user_id: str) -> UserStore:
        validate_user_id(user_id)
        with self._lock:
            store = self._open.get(user_id)
            if store is not None and not store.closed:
                self._open.move_to_end(user_id)
                return store
        store = open_store(self.path_for(user_id), user_id)
        with self._lock:
            existing = self._open.get(user_id)
            if existing is not None and not existing.closed:
                store.close()  # another thread won the race; use its store
                self._open.move_to_end(user_id)
                return existing
            self._open[user_id] = store
            self._evict_locked()
        return store

    def _evict_locked(self) -> None:
        # Stores in use by another thread are skipped and retried on the next open, so the
        # bound can be exceeded only by the number of stores busy at that instant.
        if len(self._open) <= self.max_open:
            return
        for uid in list(self._open):
            if len(self._open) <= self.max_open:
                break
            if self._open[uid].try_close():
                del self._open[uid]

    @property
    def open_count(self) -> int:
        with self._lock:
            return sum(1 for s in self._open.values() if not s.closed)

    def close(self, user_id: str) -> None:
        with self._lock:
            store = self._open.pop(user_id, None)
        if store is not None:
            store.close()

    def close_all(self) -> None:
        with self._lock:
            stores = list(self._open.values())
            self._open.clear()
        for s in stores:
            s.close()

    # -- delete / export -----------------------------------------------------------------
    def delete(self, user_id: str) -> None:
        self.close(user_id)
        _unlink_db_files(self.path_for(user_id))

    def export(self, user_id: str, destination: Path) -> Path:
        """Write a consistent copy of the user's DB to ``destination`` (SQLite online
        backup: safe while other connections read and write)."""
        source_path = self.path_for(user_id)
        check_header(source_path)
        if destination.exists() and destination.is_dir():
            destination = destination / f"{user_id}.sqlite"
        if destination.exists():
            raise AlreadyExists(f"{destination} already exists; choose another path")
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(destination.name + ".partial")
        src = sqlite3.connect(str(source_path))
        try:
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst)
                # A standalone copy: no WAL side files to carry around.
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        except sqlite3.DatabaseError as exc:
            _unlink_db_files(tmp)
            raise CorruptDatabase(f"cannot export {source_path}: {exc}") from exc
        finally:
            src.close()
        os.replace(tmp, destination)
        return destination


def _unlink_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
