"""The per-user SQLite files: schema, classification, isolation, migrations, bad files."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.shared import shared_file
from vivim.app import Vivim
from vivim.domain.errors import AlreadyExists, CorruptDatabase, InvalidIdentifier, NotFound
from vivim.store.master import models as master_models
from vivim.store.user.db import create_database, open_store
from vivim.store.user.migrations import HEAD, MIGRATIONS, SEED_MODEL_TABLES
from vivim.store.user.router import UserRouter


def _seed_classification() -> dict[str, str]:
    text = shared_file("seeds/000_04d5414053a88144.txt").read_text()
    return dict(re.findall(r"^\| `(\w+)` \| \*\*(\w+)\*\* \|", text, re.MULTILINE))


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_every_user_model_of_seed_000_lives_in_the_user_db_and_nothing_else_does() -> None:
    seed = _seed_classification()
    user_models = {m for m, c in seed.items() if c == "USER"}
    other_models = {m for m, c in seed.items() if c != "USER"}
    assert user_models == set(SEED_MODEL_TABLES)
    assert {c for m, c in seed.items() if c != "USER"} == {"MASTER", "CROSS", "SYSTEM"}
    master_tables = set(master_models.Base.metadata.tables)
    for model in other_models:
        cls = getattr(master_models, model)
        assert cls.__tablename__ in master_tables
    conn = sqlite3.connect(":memory:")
    for m in MIGRATIONS:
        for s in m.statements:
            conn.execute(s)
    user_tables = _tables(conn) - {"sqlite_sequence"}
    assert set(SEED_MODEL_TABLES.values()) <= user_tables
    assert user_tables.isdisjoint(master_tables), "a table must never exist in both databases"


def test_creating_users_gives_each_their_own_file_at_a_sharded_path(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    b = vivim.create_user("bob")
    pa, pb = vivim.router.path_for(a.id), vivim.router.path_for(b.id)
    assert pa != pb and pa.exists() and pb.exists()
    assert pa.parent.name == a.id[:2] and pa.name == f"{a.id}.sqlite"


def test_rows_written_for_one_user_never_appear_in_anothers_file(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    b = vivim.create_user("bob")
    with vivim.store(a).transaction() as conn:
        conn.execute(
            "INSERT INTO memories (id, content, created_at, updated_at) VALUES ('m1', 'alice secret', 'x', 'x')"
        )
    with vivim.store(b).read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 0
    raw = vivim.router.path_for(b.id).read_bytes()
    assert b"alice secret" not in raw
    with vivim.store(a).read() as conn:
        assert conn.execute("SELECT content FROM memories").fetchall() == [("alice secret",)]


def test_a_store_cannot_be_opened_with_another_users_id(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    b = vivim.create_user("bob")
    vivim.router.close_all()
    # Put B's file where A's should be: the router must refuse to serve it to A.
    vivim.router.path_for(a.id).unlink()
    vivim.router.path_for(a.id).write_bytes(vivim.router.path_for(b.id).read_bytes())
    with pytest.raises(InvalidIdentifier, match="does not belong"):
        vivim.store(a)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "x\x00y", "a" * 200, "../../etc/passwd"])
def test_ids_that_would_reach_a_path_are_rejected_before_any_file_is_touched(tmp_path: Path, bad: str) -> None:
    router = UserRouter(tmp_path / "users")
    with pytest.raises(InvalidIdentifier):
        router.open(bad)
    with pytest.raises(InvalidIdentifier):
        router.create(bad, "did:key:zx")
    assert not (tmp_path / "users").exists() or not any((tmp_path / "users").rglob("*.sqlite"))


def test_a_corrupt_user_db_is_reported_not_recreated(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    vivim.router.close_all()
    path = vivim.router.path_for(a.id)
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CorruptDatabase, match="not a SQLite database"):
        vivim.store(a)
    assert path.read_bytes().startswith(b"this is not a database")


def test_a_missing_user_db_is_reported(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    vivim.router.close_all()
    vivim.router.path_for(a.id).unlink()
    with pytest.raises(CorruptDatabase, match="missing"):
        vivim.store(a)
    assert not vivim.router.path_for(a.id).exists()


def test_a_truncated_user_db_is_reported(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    vivim.router.close_all()
    path = vivim.router.path_for(a.id)
    Path(f"{path}-wal").unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[:3000])
    with pytest.raises(CorruptDatabase):
        vivim.store(a)


@pytest.mark.parametrize("start", range(0, HEAD))
def test_a_user_db_at_any_earlier_version_migrates_to_head_keeping_its_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "u.sqlite"
    if start == 0:
        sqlite3.connect(path).close()  # a blank file
    else:
        create_database(path, target=start)
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO vault_meta VALUES ('owner_user_id', ?)", ("a" * 32,))
        conn.execute(
            "INSERT INTO conversations (id, provider, source_id, captured_at) VALUES ('c1', 'chatgpt', 's1', 'now')"
        )
        conn.commit()
        conn.close()
    if start == 0:
        create_database(path)  # blank -> head
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO vault_meta VALUES ('owner_user_id', ?)", ("a" * 32,))
        conn.commit()
        conn.close()
    store = open_store(path, "a" * 32)
    with store.read() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == HEAD
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == [m.name for m in MIGRATIONS]
        if start:
            assert conn.execute("SELECT source_id FROM conversations").fetchall() == [("s1",)]
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_user_db_from_a_newer_vivim_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.sqlite"
    create_database(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {HEAD + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer|upgrade"):
        open_store(path, "a" * 32)


def test_cascades_follow_the_seeds(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    with vivim.store(a).transaction() as conn:
        conn.execute("INSERT INTO conversations (id, provider, source_id, captured_at) VALUES ('c', 'x', 's', 'n')")
        conn.execute(
            "INSERT INTO messages (id, conversation_id, source_id, role, parts, message_index)"
            " VALUES ('m', 'c', 's', 'user', '[]', 0)"
        )
        for uid in ("u1", "u2"):
            conn.execute(
                "INSERT INTO atomic_chat_units (id, author_did, content, type, category, conversation_id,"
                " message_id, created_at) VALUES (?, 'd', 'x', 'statement', 'c', 'c', 'm', 'n')",
                (uid,),
            )
        conn.execute("INSERT INTO acu_links (id, source_id, target_id, relation, created_at) VALUES ('l','u1','u2','next','n')")
        conn.execute("DELETE FROM conversations WHERE id = 'c'")
        for table in ("messages", "atomic_chat_units", "acu_links"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def test_the_open_store_cache_stays_within_its_bound(tmp_path: Path) -> None:
    from vivim.app import open_vivim

    v = open_vivim(tmp_path / "d", max_open_user_dbs=3)
    v.init()
    users = [v.create_user(f"u{i}") for i in range(8)]
    for u in users * 2:
        v.store(u)
        assert v.router.open_count <= 3
    v.close()


def test_deleting_a_user_removes_their_file_and_master_rows(vivim: Vivim) -> None:
    a = vivim.create_user("alice")
    path = vivim.router.path_for(a.id)
    vivim.delete_user("alice")
    assert not path.exists() and not Path(f"{path}-wal").exists()
    with pytest.raises(NotFound):
        vivim.get_user("alice")
    from vivim.store.master import users as mu

    with vivim.master.connect() as c:
        assert mu.get_user_database(c, a.id) is None


def test_exporting_a_user_writes_a_consistent_standalone_copy(vivim: Vivim, tmp_path: Path) -> None:
    a = vivim.create_user("alice")
    with vivim.store(a).transaction() as conn:
        conn.execute("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('n', 'Ideas', 'x', 'x')")
    dest = vivim.export_user("alice", tmp_path / "out" / "alice.sqlite")
    conn = sqlite3.connect(dest)
    assert conn.execute("SELECT title FROM notebooks").fetchall() == [("Ideas",)]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with pytest.raises(AlreadyExists):
        vivim.export_user("alice", dest)


def test_the_user_row_records_where_the_db_lives(vivim: Vivim) -> None:
    from vivim.store.master import users as mu

    a = vivim.create_user("alice")
    with vivim.master.connect() as c:
        rec = mu.get_user_database(c, a.id)
    assert rec is not None and rec.path == f"{a.id[:2]}/{a.id}.sqlite" and rec.schema_version == HEAD


def test_duplicate_handles_are_refused_and_leave_no_orphan_file(vivim: Vivim) -> None:
    vivim.create_user("alice", email="a@example.org")
    before = sorted(p.name for p in vivim.settings.users_dir.rglob("*.sqlite"))
    with pytest.raises(AlreadyExists):
        vivim.create_user("alice")
    with pytest.raises(AlreadyExists):
        vivim.create_user("alice2", email="a@example.org")
    assert sorted(p.name for p in vivim.settings.users_dir.rglob("*.sqlite")) == before


def test_a_new_users_private_key_is_encrypted_and_their_did_matches_it(vivim: Vivim) -> None:
    from vivim.store.master import users as mu

    a = vivim.create_user("alice")
    kp = vivim.keypair(a)
    assert kp.did == a.did
    with vivim.master.connect() as c:
        row = mu.get_user_by_id(c, a.id)
    assert row is not None and row.encrypted_private_key and row.encrypted_private_key.startswith("v1.")
    assert kp.private_key.hex() not in row.encrypted_private_key
