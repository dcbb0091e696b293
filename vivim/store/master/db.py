"""The master DB handle: engine, sessions and programmatic Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from vivim.domain.errors import SchemaTooNew

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def alembic_config() -> Config:
    """An Alembic config built in code, so no alembic.ini has to ship or be found at run time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _install_sqlite_pragmas(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin: pysqlite's own
        # implicit BEGIN skips DDL, which would leave migrations half-applied on failure.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL cannot corrupt the file; a power cut may lose the last commits.
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


class MasterDB:
    """The shared master database (identity and cross-user data).

    Constructing one does no I/O: the engine is built on first use, so composing the app
    never touches a database until something asks for it.
    """

    def __init__(self, url: str) -> None:
        self._url: URL = make_url(url)
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def url(self) -> URL:
        return self._url

    @property
    def url_for_display(self) -> str:
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect_name(self) -> str:
        return self._url.get_backend_name()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        url = self._url
        if url.get_backend_name() != "sqlite":
            return create_engine(url, pool_pre_ping=True)
        if _is_memory_sqlite(url):
            # One shared connection, or every checkout would see a different empty DB.
            engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
            _install_sqlite_pragmas(engine, wal=False)
            return engine
        assert url.database is not None
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _install_sqlite_pragmas(engine, wal=True)
        return engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection in a transaction (commit on success): the fast path for bulk work."""
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ migrations

    def _script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(alembic_config())

    def _known(self, script: ScriptDirectory, current: str | None) -> str | None:
        if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
            raise SchemaTooNew(
                f"master DB {self.url_for_display} is at revision {current!r}, which this "
                "version of vivim does not know; upgrade vivim"
            )
        return current

    def upgrade(self, revision: str = "head") -> None:
        """Migrate forward to ``revision``, in one transaction where the engine allows it."""
        cfg = alembic_config()
        self._known(self._script(), self.current_revision())
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str) -> None:
        cfg = alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def current_revision(self) -> str | None:
        """The revision the database is at, or None for a database never migrated."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        head = self._script().get_current_head()
        if head is None:  # only possible if the versions folder went missing from the install
            raise RuntimeError(f"no master DB migrations found in {MIGRATIONS_DIR}")
        return head

    def pending_revisions(self) -> list[str]:
        """Revisions between the current one and head, oldest first."""
        script = self._script()
        current = self._known(script, self.current_revision())
        newest_first = script.iterate_revisions(self.head_revision(), current or "base")
        return [rev.revision for rev in reversed(list(newest_first))]

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
