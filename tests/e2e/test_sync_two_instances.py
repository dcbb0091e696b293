"""Two vivim instances with separate data directories, one served on loopback by a real
uvicorn server, the other syncing to it with the `vivim sync` CLI as a device of the same
user (same DID through `vivim keys export/import`, its own device key). Both edit offline,
concurrently; after syncing, every row of every synced table is the same in both vaults.
Run both ways round: each instance takes a turn as the server."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from tests.e2e.cli import vivim as cli
from tests.e2e.test_api_support import conversation, generic_export
from tests.sync_support import synced_rows
from vivim.api.app import create_app
from vivim.app import open_vivim


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    v = open_vivim(data_dir)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(v), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        v.close()


def _vault(data_dir: Path) -> Path:
    v = open_vivim(data_dir)
    try:
        return v.router.path_for(v.get_user("alice").id)
    finally:
        v.close()


def _sql(data_dir: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edits as any feature makes them: through the user's store, in one transaction."""
    v = open_vivim(data_dir)
    try:
        with v.store(v.get_user("alice")).transaction() as conn:
            for sql, args in statements:
                conn.execute(sql, args)
    finally:
        v.close()


def _rows(vault: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(vault)
    try:
        return synced_rows(conn)
    finally:
        conn.close()


def _query(vault: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(vault)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("served", ["one", "two"])
def test_concurrent_offline_edits_on_two_instances_end_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served: str
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    key, passphrase = tmp_path / "alice.key", tmp_path / "pass"
    passphrase.write_text("correct horse battery staple\n")
    assert cli(capsys, "--data-dir", str(one), "user", "create", "alice").code == 0
    assert cli(capsys, "--data-dir", str(one), "keys", "export", "--out", str(key), "--passphrase-file",
               str(passphrase)).code == 0
    r = cli(capsys, "--data-dir", str(two), "keys", "import", str(key), "alice", "--passphrase-file", str(passphrase),
            "--json")
    assert r.code == 0, r.err
    assert r.json()["did"] == open_vivim(one).get_user("alice").did

    # Offline, each instance imports an export; c1 is in both (same ids on both sides).
    shared = conversation("c1", "Shared", "2026-01-01T00:00:00Z", ["hello", "hi there"])
    exports = {
        one: [shared, conversation("c2", "Only on one", "2026-01-02T00:00:00Z", ["q", "a", "q2", "a2"])],
        two: [shared, conversation("c3", "Only on two", "2026-01-03T00:00:00Z", ["tea?", "green"])],
    }
    for data_dir, convs in exports.items():
        path = tmp_path / f"{data_dir.name}.json"
        path.write_bytes(generic_export(convs))
        r = cli(capsys, "--data-dir", str(data_dir), "import", str(path), "--no-index", "--json")
        assert r.code == 0, r.err

    server_dir, device_dir = (one, two) if served == "one" else (two, one)
    with serving(server_dir) as url:
        r = cli(capsys, "--data-dir", str(device_dir), "sync", "login", "--remote", url, "--name", "laptop")
        assert r.code == 0, r.err
        first = cli(capsys, "--data-dir", str(device_dir), "sync", "--json")
        assert first.code == 0, first.err
        # c1 was captured on both sides; two imported it later, so two's rows of c1 win
        # everywhere. One pushes c2 (a conversation and 4 messages); two pushes c3 and c1.
        pushed = {one: 1 + 4, two: (1 + 2) + (1 + 2)}[device_dir]
        assert (first.json()["pushed"], first.json()["applied_there"]["applied"]) == (pushed, pushed)
        assert _rows(_vault(one)) == _rows(_vault(two))

        # Concurrent offline edits on both.
        _sql(server_dir,
             ("UPDATE conversations SET title = 'Server title' WHERE source_id = 'c1'", ()),
             ("DELETE FROM conversations WHERE source_id = 'c2'", ()),
             ("INSERT INTO user_facts (id, content, content_hash, created_at, updated_at)"
              " VALUES ('fs', 'Works from the server', 'h-fs', 't', 't')", ()),
             ("INSERT INTO user_context_settings (id, preset, updated_at) VALUES (1, 'focused', 't')"
              " ON CONFLICT (id) DO UPDATE SET preset = 'focused'", ()))
        time.sleep(0.01)  # the device edits later: its title wins
        _sql(device_dir,
             ("UPDATE conversations SET title = 'Device title' WHERE source_id = 'c1'", ()),
             ("UPDATE messages SET parts = '[{\"type\": \"text\", \"content\": \"green, please\"}]'"
              " WHERE conversation_id = (SELECT id FROM conversations WHERE source_id = 'c3')"
              " AND message_index = 1", ()),
             ("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('nb', 'Reading', 't', 't')", ()),
             ("INSERT INTO notebook_entries (id, notebook_id, entry_type, note, position, created_at, updated_at)"
              " VALUES ('ne', 'nb', 'note', 'tea notes', 0, 't', 't')", ()),
             ("INSERT INTO user_facts (id, content, content_hash, created_at, updated_at)"
              " VALUES ('fd', 'Drinks green tea', 'h-fd', 't', 't')", ()))

        second = cli(capsys, "--data-dir", str(device_dir), "sync", "--json")
        assert second.code == 0, second.err
        third = cli(capsys, "--data-dir", str(device_dir), "sync", "--json")
        assert (third.json()["pulled"], third.json()["pushed"]) == (0, 0)
        conflicts = cli(capsys, "--data-dir", str(device_dir), "sync", "conflicts", "--json").json()
        status = cli(capsys, "--data-dir", str(device_dir), "sync", "status", "--json").json()
        # c1, c3, their 4 messages, 2 facts, the settings, a notebook and its entry; c2 and
        # its 4 messages are tombstones.
        assert (status["records"], status["tombstones"], status["remotes"]) == (11, 5, [url])
        [c1_id] = _query(_vault(device_dir), "SELECT id FROM conversations WHERE source_id = 'c1'")
        r = cli(capsys, "--data-dir", str(device_dir), "sync", "presence", "--conversation", c1_id[0],
                "--visible", c1_id[0], "--json")
        assert r.code == 0, r.err
        [reported] = r.json()
        assert (reported["active_conversation_id"], reported["visible_items"]) == (c1_id[0], [c1_id[0]])
        shown = cli(capsys, "--data-dir", str(device_dir), "sync", "conflicts")
        assert "discarded" in shown.out and "conversations" in shown.out

    rows_one, rows_two = _rows(_vault(one)), _rows(_vault(two))
    assert rows_one == rows_two
    vault = _vault(device_dir)
    assert _query(vault, "SELECT source_id, title FROM conversations ORDER BY source_id") == [
        ("c1", "Device title"), ("c3", "Only on two")
    ]
    assert _query(vault, "SELECT COUNT(*) FROM messages") == [(2 + 2,)]  # c2's messages went with it
    assert _query(vault, "SELECT id FROM user_facts ORDER BY id") == [("fd",), ("fs",)]
    assert _query(vault, "SELECT preset FROM user_context_settings") == [("focused",)]
    assert _query(vault, "SELECT note FROM notebook_entries") == [("tea notes",)]
    assert "green, please" in json.dumps(rows_one["messages"])
    # The one record both sides changed: the server's title lost, and is kept for the user.
    [c1] = _query(vault, "SELECT id FROM conversations WHERE source_id = 'c1'")
    assert [(c["kind"], c["table_name"], c["record_id"]) for c in conflicts] == [
        ("discarded", "conversations", c1[0])
    ]
    assert "Server title" in conflicts[0]["loser_payload"]


def test_a_device_key_registered_on_the_server_can_be_used_and_a_revoked_one_cannot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server_dir, device_dir = tmp_path / "server", tmp_path / "device"
    key, passphrase, device_key = tmp_path / "alice.key", tmp_path / "pass", tmp_path / "laptop.key"
    passphrase.write_text("correct horse battery staple")
    assert cli(capsys, "--data-dir", str(server_dir), "user", "create", "alice").code == 0
    cli(capsys, "--data-dir", str(server_dir), "keys", "export", "--out", str(key), "--passphrase-file", str(passphrase))
    cli(capsys, "--data-dir", str(device_dir), "keys", "import", str(key), "alice", "--passphrase-file", str(passphrase))
    r = cli(capsys, "--data-dir", str(server_dir), "devices", "register", "laptop", "--key-out", str(device_key),
            "--json")
    device_id = r.json()["device_id"]
    _sql(server_dir, ("INSERT INTO notebooks (id, title, created_at, updated_at) VALUES ('nb', 'Ideas', 't', 't')", ()))
    with serving(server_dir) as url:
        r = cli(capsys, "--data-dir", str(device_dir), "sync", "login", "--remote", url, "--device-key", str(device_key))
        assert r.code == 0 and device_id in r.out, r.err
        r = cli(capsys, "--data-dir", str(device_dir), "sync", "--json")
        assert (r.code, r.json()["pulled"]) == (0, 1)
        assert cli(capsys, "--data-dir", str(server_dir), "devices", "revoke", device_id).code == 0
        r = cli(capsys, "--data-dir", str(device_dir), "sync")
        assert r.code == 1 and "revoked" in r.err
    assert _query(_vault(device_dir), "SELECT title FROM notebooks") == [("Ideas",)]
