"""Integration fixtures: real databases only.

``master_url`` runs a test once on SQLite (a file in tmp_path) and once on a real
PostgreSQL database (fresh per test, on a cluster started once for the session).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PostgresServer, PostgresUnavailable, throwaway_database, throwaway_postgres
from vivim.store.master.db import MasterDB


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway_postgres())
        except PostgresUnavailable as e:
            pytest.skip(f"PostgreSQL not available: {e}")
        yield server


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def master_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'master.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with throwaway_database(server) as url:
        yield url


@pytest.fixture
def master_db(master_url: str) -> Iterator[MasterDB]:
    """A MasterDB on a blank database (not migrated); disposed after the test."""
    db = MasterDB(master_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def migrated_db(master_db: MasterDB) -> MasterDB:
    master_db.upgrade()
    return master_db
