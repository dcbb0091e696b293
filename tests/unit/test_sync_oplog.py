"""The operation log: what the triggers capture, one clock per transaction, folding."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.sync_support import add_fact, make_store
from vivim.domain import hlc
from vivim.store.user import oplog
from vivim.store.user.migrations import SYNCED_TABLES


def _log(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return conn.execute("SELECT table_name, record_id, operation, hlc FROM sync_operations ORDER BY seq").fetchall()


def test_every_column_of_a_table_with_derived_columns_is_watched_or_derived(tmp_path: Path) -> None:
    store = make_store(tmp_path, "a")
    with store.read() as conn:
        for table in SYNCED_TABLES:
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info('{table.name}')")}
            assert columns, table.name
            if table.derived:
                # A column added later must be listed here (in a new migration that
                # recreates the trigger), or its changes would never sync.
                assert set(table.columns) | set(table.derived) == columns, table.name
                assert not set(table.columns) & set(table.derived)


def test_writes_are_logged_and_one_transaction_gets_one_clock(tmp_path: Path) -> None:
    store = make_store(tmp_path, "a")
    with store.transaction() as conn:
        conn.execute("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('n1', 'A', 't', 't')")
        conn.execute("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('n2', 'B', 't', 't')")
        conn.execute(
            "INSERT INTO conversations (id, provider, source_id, captured_at) VALUES ('c\"1', 'chatgpt', 's', 't')"
        )
        conn.execute(
            "INSERT INTO topic_profiles (id, slug, label, created_at, updated_at) VALUES ('t1', 't', 'T', 't', 't')"
        )
        conn.execute(
            "INSERT INTO topic_conversations (topic_id, conversation_id, created_at) VALUES ('t1', 'c\"1', 't')"
        )
    with store.transaction() as conn:
        conn.execute("UPDATE notebooks SET title = 'A2' WHERE id = 'n1'")
        conn.execute("DELETE FROM notebooks WHERE id = 'n2'")
        conn.execute("UPDATE notebooks SET id = 'n3' WHERE id = 'n1'")
    with store.read() as conn:
        log = _log(conn)
        node = oplog.node_id(conn)
        devices = {r[0] for r in conn.execute("SELECT DISTINCT device_id FROM sync_operations")}
    assert [r[:3] for r in log] == [
        ("notebooks", "n1", "insert"),
        ("notebooks", "n2", "insert"),
        ("conversations", 'c"1', "insert"),
        ("topic_profiles", "t1", "insert"),
        ("topic_conversations", '["t1","c\\"1"]', "insert"),
        ("notebooks", "n1", "update"),
        ("notebooks", "n2", "delete"),
        ("notebooks", "n1", "delete"),
        ("notebooks", "n3", "update"),
    ]
    first, second = {r[3] for r in log[:5]}, {r[3] for r in log[5:]}
    assert len(first) == 1 and len(second) == 1
    assert hlc.parse(first.pop()) < hlc.parse(second.pop())
    assert devices == {node}


def test_derived_columns_and_unsynced_tables_are_not_logged(tmp_path: Path) -> None:
    store = make_store(tmp_path, "a")
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO conversations (id, provider, source_id, captured_at) VALUES ('c1', 'chatgpt', 's1', 't')"
        )
    with store.transaction() as conn:
        conn.execute("UPDATE conversations SET units_state = 'x', memories_state = 'y' WHERE id = 'c1'")
        conn.execute(
            "INSERT INTO import_sources (fingerprint, source_name, format, size_bytes, imported_at)"
            " VALUES ('f', 'n', 'chatgpt', 1, 't')"
        )
        conn.execute(
            "INSERT INTO context_bundles (id, cache_key, bundle_type, budget_tokens, total_tokens, content,"
            " source_fingerprint, created_at) VALUES ('b', 'k', 'chat', 10, 5, 'x', 'fp', 't')"
        )
    with store.transaction() as conn:
        conn.execute("UPDATE conversations SET title = 'T' WHERE id = 'c1'")
    with store.read() as conn:
        assert [r[:3] for r in _log(conn)] == [("conversations", "c1", "insert"), ("conversations", "c1", "update")]


def test_a_rolled_back_transaction_leaves_no_operations(tmp_path: Path) -> None:
    store = make_store(tmp_path, "a")
    try:
        with store.transaction() as conn:
            conn.execute("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('n1', 'A', 't', 't')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.read() as conn:
        assert _log(conn) == []


def test_folding_keeps_the_latest_operation_per_record_and_a_growing_seq(tmp_path: Path) -> None:
    store = make_store(tmp_path, "a")
    add_fact(store, "f1", "one")
    add_fact(store, "f2", "two")
    with store.transaction() as conn:
        conn.execute("UPDATE user_facts SET content = 'uno' WHERE id = 'f1'")
        assert oplog.fold(conn) == 3
    with store.transaction() as conn:
        assert oplog.fold(conn) == 0
        conn.execute("DELETE FROM user_facts WHERE id = 'f2'")
    with store.transaction() as conn:
        oplog.fold(conn)
    with store.read() as conn:
        versions = conn.execute("SELECT record_id, seq, operation FROM sync_versions ORDER BY seq").fetchall()
        queue = conn.execute("SELECT seq FROM sync_operations").fetchall()
    assert versions == [("f1", 3, "update"), ("f2", 4, "delete")]
    assert queue == [(4,)]  # the last row stays, so the next seq is 5, never a reused 1


def test_a_vault_that_existed_before_sync_logs_its_rows_as_insertions(tmp_path: Path) -> None:
    from tests.sync_support import USER_ID
    from vivim.store.user.db import applied_version, create_database, open_store
    from vivim.store.user.migrations import MIGRATIONS

    before_sync = next(i for i, m in enumerate(MIGRATIONS) if m.name.endswith("_sync_operation_log"))
    path = tmp_path / "old.sqlite"
    create_database(path, target=before_sync)
    conn = sqlite3.connect(path, isolation_level=None)
    assert applied_version(conn) == before_sync
    conn.execute("INSERT INTO vault_meta (key, value) VALUES ('owner_user_id', ?)", (USER_ID,))
    conn.execute("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('n1', 'old', 't', 't')")
    conn.close()
    store = open_store(path, USER_ID)  # migrates to head
    with store.transaction() as c:
        oplog.fold(c)
    with store.read() as c:
        assert c.execute("SELECT table_name, record_id, operation FROM sync_versions").fetchall() == [
            ("notebooks", "n1", "insert")
        ]
