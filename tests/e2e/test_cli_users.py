from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.cli import vivim


def test_init_then_create_list_export_delete_a_user(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert vivim(capsys, "init").code == 0
    created = vivim(capsys, "user", "create", "alice", "--email", "alice@example.org", "--json")
    assert created.code == 0, created.err
    user = created.json()
    assert len(user["id"]) == 32 and user["did"].startswith("did:key:z6Mk") and user["handle"] == "alice"

    listed = vivim(capsys, "user", "list", "--json").json()
    assert [u["handle"] for u in listed] == ["alice"]

    dest = tmp_path / "alice-backup.sqlite"
    exported = vivim(capsys, "user", "export", "alice", str(dest))
    assert exported.code == 0 and dest.exists()
    assert sqlite3.connect(dest).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    assert vivim(capsys, "user", "delete", "alice").code == 0
    assert vivim(capsys, "user", "list", "--json").json() == []


def test_db_status_reports_master_url_without_password_and_versions(capsys: pytest.CaptureFixture[str]) -> None:
    vivim(capsys, "user", "create", "bob")
    status = vivim(capsys, "db", "status", "--json").json()
    assert status["users"] == 1
    assert status["master"]["pending_migrations"] == []
    assert status["master"]["current_revision"] == status["master"]["head_revision"]
    assert status["user_db"]["behind_head"] == 0
    assert status["master"]["url"].startswith("sqlite:///")


def test_the_master_url_is_shown_without_its_password() -> None:
    from vivim.store.master.db import MasterDB

    shown = MasterDB("postgresql+psycopg://vivim:s3cret@db.example:5432/vivim").url_for_display
    assert shown == "postgresql+psycopg://vivim:***@db.example:5432/vivim"


@pytest.mark.parametrize("name", ["../x", "a/b", "", "x" * 65])
def test_bad_user_names_are_one_clear_line_and_a_non_zero_exit(capsys: pytest.CaptureFixture[str], name: str) -> None:
    result = vivim(capsys, "user", "create", name)
    assert result.code != 0
    assert "Traceback" not in result.err
    assert result.err.strip().count("\n") == 0 and result.err.startswith("error:")


def test_unknown_user_is_reported_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    vivim(capsys, "init")
    result = vivim(capsys, "user", "delete", "nobody")
    assert result.code == 1 and "no user named 'nobody'" in result.err


def test_a_corrupt_user_db_is_reported_by_db_status(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    user = vivim(capsys, "user", "create", "carol", "--json").json()
    path = tmp_path / "data" / "users" / user["id"][:2] / f"{user['id']}.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"garbage" * 1000)
    status = vivim(capsys, "db", "status", "--json").json()
    assert status["user_db"]["problems"] and "not a SQLite database" in status["user_db"]["problems"][0]["error"]


def test_every_command_has_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    from typer.main import get_command

    from vivim.cli.main import app

    root = get_command(app)
    def walk(cmd, path):  # type: ignore[no-untyped-def]
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])
    for path, cmd in walk(root, []):
        if path:
            assert (cmd.help or "").strip(), f"`vivim {' '.join(path)}` has no help text"
