"""A throwaway PostgreSQL cluster for the test session.

``initdb`` + ``pg_ctl`` in a temp dir, listening on 127.0.0.1 at a free port with trust
auth, stopped (``-m immediate``) and deleted afterwards even when tests fail. As root the
server runs as the ``postgres`` OS user, because PostgreSQL refuses to run as root.

Set ``VIVIM_TEST_POSTGRES_URL`` (an admin URL, e.g. a CI service container) to use an
existing server instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

ENV_URL = "VIVIM_TEST_POSTGRES_URL"
DRIVER = "postgresql+psycopg"
DEFAULT_DATABASE = "vivim_test"


class PostgresUnavailable(RuntimeError):
    """No way to run PostgreSQL here; the message says why (used as the skip reason)."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``url`` is the ready ``vivim_test`` database; ``admin_url`` is used
    to create and drop further databases (one per test, for isolation)."""

    admin_url: URL
    url: str

    def url_for(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self, prefix: str = "t") -> str:
        """Create a fresh, empty database and return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        # FILE_COPY skips WAL-logging the template copy: much faster for tiny test DBs.
        self._admin(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg  # imported late: only postgres tests need the driver

        dsn = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def find_pg_bin() -> Path | None:
    """The folder holding initdb/pg_ctl: PATH first, then Debian's versioned folders."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(argv: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", owner, "--", *argv]
    quoted = " ".join(_shell_quote(a) for a in argv)
    return ["su", owner, "-s", "/bin/sh", "-c", quoted]


def _shell_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _server_user() -> str | None:
    """None to run as ourselves; 'postgres' when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise PostgresUnavailable("running as root and there is no 'postgres' OS user") from e
    return "postgres"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr or proc.stdout}")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """Start a private cluster, yield it, and always stop and delete it afterwards."""
    external = os.environ.get(ENV_URL)
    if external:
        yield PostgresServer(make_url(external), external)
        return

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            "initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin; "
            f"install PostgreSQL or set {ENV_URL}"
        )
    owner = _server_user()
    root = Path(tempfile.mkdtemp(prefix="vivim-pg-"))
    data = root / "data"
    started = False
    try:
        if owner is not None:
            info = pwd.getpwnam(owner)
            os.chown(root, info.pw_uid, info.pw_gid)
        os.chmod(root, 0o700)
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                owner,
            ),
            "initdb",
        )
        last_error: Exception | None = None
        # A port picked by binding to 0 can be taken before the server binds it; retry.
        for _attempt in range(3):
            port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run(
                    _as_server_user(
                        [
                            str(bin_dir / "pg_ctl"),
                            "-D",
                            str(data),
                            "-o",
                            options,
                            "-l",
                            str(root / "server.log"),
                            "-w",
                            "-t",
                            "60",
                            "start",
                        ],
                        owner,
                    ),
                    "pg_ctl start",
                )
            except RuntimeError as e:
                last_error = e
                continue
            started = True
            break
        if not started:
            log = root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"could not start PostgreSQL: {last_error}\n{tail}")

        admin = URL.create(DRIVER, username="postgres", host="127.0.0.1", port=port, database="postgres")
        server = PostgresServer(admin, admin.set(database=DEFAULT_DATABASE).render_as_string())
        server._admin(f'CREATE DATABASE "{DEFAULT_DATABASE}"')
        yield server
    finally:
        if started:
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_database(server: PostgresServer) -> Iterator[str]:
    """A fresh database on ``server`` for one test; dropped afterwards."""
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
