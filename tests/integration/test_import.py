"""Importing into a real user DB: fixtures end to end, idempotency, growth, bad input, crashes."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from benchmarks.gen_chatgpt import write_export
from tests.shared import shared_fixture
from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer, ImportSummary
from vivim.store.master import captures

REPO = Path(__file__).resolve().parents[2]

# (fixture, format, conversations stored, records that fail, messages stored) — counts from
# reading each file (the parser unit tests check the content in detail).
FIXTURES = [
    ("exports/chatgpt/librechat__chatgpt-modern-export.json", "chatgpt", 2, 1, 7),
    ("exports/chatgpt/librechat__chatgpt-tree.json", "chatgpt", 1, 0, 12),
    ("exports/chatgpt/openwebui-importer__gpt_example.json", "chatgpt", 1, 0, 12),
    ("exports/chatgpt/polylogue__native-conversation-v1.json", "chatgpt", 1, 0, 8),
    ("exports/claude/chatlore__conversations.json", "claude", 2, 1, 7),
    ("exports/claude/openwebui-importer__claude_thinking_example.json", "claude", 1, 0, 2),
    ("exports/claude/panchat__claude_conversations.json", "claude", 1, 0, 2),
    ("exports/claude/simonw-claude-to-sqlite__artifacts.json", "claude", 1, 0, 20),
    ("exports/claude/simonw-claude-to-sqlite__example.json", "claude", 1, 0, 2),
    ("exports/gemini/chatlore__MyActivity.json", "gemini", 3, 1, 9),
    ("exports/gemini/panchat__gemini_myactivity.json", "gemini", 3, 0, 7),
    ("exports/gemini/openwebui-importer__aistudio_example.json", "aistudio", 1, 0, 3),
    ("exports/gemini/polylogue__aistudio_branching_session.json", "aistudio", 1, 0, 4),
    ("exports/gemini/polylogue__aistudio_code_execution_session.json", "aistudio", 1, 0, 4),
    ("exports/gemini/polylogue__aistudio_multimodal_session.json", "aistudio", 1, 0, 4),
    ("exports/openwebui/openwebui-importer__webui-json.json", "openwebui", 1, 0, 2),
    ("share-pages/chatgpt.html", "share-page", 1, 0, 14),
    ("share-pages/claude.html", "share-page", 1, 0, 4),
    ("share-pages/deepseek.html", "share-page", 1, 0, 6),
    ("share-pages/grok.html", "share-page", 1, 0, 6),
    ("share-pages/kimi.html", "share-page", 1, 0, 2),
    ("share-pages/lmarena.html", "share-page", 1, 0, 3),
    ("share-pages/zai.html", "share-page", 1, 0, 6),
]


@pytest.fixture
def alice(vivim: Vivim) -> UserRecord:
    return vivim.create_user("alice")


def run_import(vivim: Vivim, user: UserRecord, *paths: Path, **kw: Any) -> ImportSummary:
    return Importer(store=vivim.store(user), master=vivim.master, user_id=user.id, **kw).import_paths(list(paths))


def table_counts(vivim: Vivim, user: UserRecord) -> dict[str, int]:
    with vivim.store(user).read() as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("conversations", "messages", "custom_instructions")
        }


def vault_snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored conversation and message, minus the capture time (which is when)."""
    conn = sqlite3.connect(db)
    convs = conn.execute(
        "SELECT id, provider, source_id, source_url, content_hash, version, title, model, created_at,"
        " message_count, total_words, total_tokens, total_code_blocks, metadata FROM conversations ORDER BY id"
    ).fetchall()
    msgs = conn.execute(
        "SELECT id, conversation_id, source_id, parent_id, role, parts, content_hash, version, message_index,"
        " token_count, hidden, on_current_path FROM messages ORDER BY id"
    ).fetchall()
    conn.close()
    return {"conversations": convs, "messages": msgs}


@pytest.mark.parametrize(("fixture", "fmt", "n_conv", "n_failed", "n_msgs"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_every_fixture_imports_with_the_expected_counts(
    vivim: Vivim, alice: UserRecord, fixture: str, fmt: str, n_conv: int, n_failed: int, n_msgs: int
) -> None:
    path = shared_fixture(fixture)
    summary = run_import(vivim, alice, path)
    [fs] = summary.files
    assert (fs.format, fs.created, fs.failed, fs.new_messages) == (fmt, n_conv, n_failed, n_msgs), fs.errors
    assert fs.status == ("partial" if n_failed else "imported")
    counts = table_counts(vivim, alice)
    assert (counts["conversations"], counts["messages"]) == (n_conv, n_msgs)
    # Statistics are computed from the stored parts and add up.
    with vivim.store(alice).read() as conn:
        total, tokens = conn.execute("SELECT SUM(message_count), SUM(total_tokens) FROM conversations").fetchone()
        assert total == n_msgs
        assert tokens == conn.execute("SELECT SUM(token_count) FROM messages").fetchone()[0] > 0


def test_reimporting_every_fixture_adds_nothing(vivim: Vivim, alice: UserRecord) -> None:
    paths = [shared_fixture(f[0]) for f in FIXTURES]
    first = run_import(vivim, alice, *paths)
    before = table_counts(vivim, alice)
    snapshot = vault_snapshot(vivim.router.path_for(alice.id))
    second = run_import(vivim, alice, *paths)
    assert second.totals()["created"] == second.totals()["updated"] == second.totals()["new_messages"] == 0
    assert second.totals()["unchanged"] == first.totals()["created"]
    assert table_counts(vivim, alice) == before
    assert vault_snapshot(vivim.router.path_for(alice.id)) == snapshot
    # Files that had a broken record are re-read (and the record fails again); the rest are
    # recognised by fingerprint.
    assert {fs.status for fs in second.files} == {"unchanged", "partial"}


def test_branches_are_kept_with_parents_and_the_current_path(vivim: Vivim, alice: UserRecord) -> None:
    run_import(vivim, alice, shared_fixture("exports/chatgpt/librechat__chatgpt-tree.json"))
    with vivim.store(alice).read() as conn:
        rows = conn.execute("SELECT id, parent_id, on_current_path FROM messages").fetchall()
    off_path = [r for r in rows if not r[2]]
    assert len(rows) == 12 and len(off_path) == 5
    ids = {r[0] for r in rows}
    assert all(r[1] in ids for r in rows if r[1] is not None)
    parents = [r[1] for r in rows]
    assert any(parents.count(p) > 1 for p in parents if p), "a branch point has several children"


def _generic(messages: list[dict[str, Any]], title: str = "Grows") -> dict[str, Any]:
    return {
        "format": "vivim.conversations/v1",
        "conversations": [
            {"id": "conv-1", "title": title, "provider": "chatgpt", "created_at": "2026-01-01T00:00:00Z",
             "messages": messages}
        ],
    }


def _msg(i: int, text: str) -> dict[str, Any]:
    return {"id": f"m{i}", "parent_id": f"m{i - 1}" if i else None, "role": "user" if i % 2 == 0 else "assistant",
            "text": text, "created_at": f"2026-01-01T00:0{i}:00Z"}


def test_a_grown_conversation_adds_only_its_new_messages_and_bumps_versions(
    vivim: Vivim, alice: UserRecord, tmp_path: Path
) -> None:
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(_generic([_msg(0, "How do I use WAL?"), _msg(1, "Set the pragma.")])))
    run_import(vivim, alice, v1)
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps(_generic([
        _msg(0, "How do I use WAL?"),
        _msg(1, "Set the pragma journal_mode=WAL."),  # edited
        _msg(2, "Thanks, and checkpoints?"),
        _msg(3, "They run automatically."),
    ])))
    [fs] = run_import(vivim, alice, v2).files
    assert (fs.updated, fs.new_messages, fs.changed_messages) == (1, 2, 1)
    with vivim.store(alice).read() as conn:
        assert conn.execute("SELECT version, message_count FROM conversations").fetchone() == (2, 4)
        versions = dict(conn.execute("SELECT source_id, version FROM messages").fetchall())
    assert versions == {"m0": 1, "m1": 2, "m2": 1, "m3": 1}
    # Importing the older, shorter export again loses nothing.
    [fs] = run_import(vivim, alice, v1).files
    assert table_counts(vivim, alice)["messages"] == 4


def test_source_urls_are_unique_per_user_not_globally(vivim: Vivim, alice: UserRecord) -> None:
    bob = vivim.create_user("bob")
    page = shared_fixture("share-pages/claude.html")
    run_import(vivim, alice, page)
    run_import(vivim, bob, page)
    for user in (alice, bob):
        with vivim.store(user).read() as conn:
            [(url,)] = conn.execute("SELECT source_url FROM conversations").fetchall()
            assert url.startswith("https://claude.ai/share/")


def test_every_attempt_is_recorded_and_stats_follow(vivim: Vivim, alice: UserRecord, tmp_path: Path) -> None:
    run_import(vivim, alice, shared_fixture("exports/claude/chatlore__conversations.json"))
    with vivim.master.session() as s:
        attempts = captures.recent_attempts(s, user_id=alice.id, limit=50)
        stats = {r["provider"]: r for r in captures.provider_stats(s, user_id=alice.id)}
    by_status = sorted(a["status"] for a in attempts)
    assert by_status == ["failed", "partial", "success", "success"]  # 2 conversations, 1 bad record, the file
    ok = [a for a in attempts if a["status"] == "success"]
    assert all(a["conversation_id"] and a["provider"] == "claude" and a["duration"] is not None for a in ok)
    assert stats["claude"]["total_captures"] == 3
    assert stats["claude"]["successful_captures"] == 2 and stats["claude"]["failed_captures"] == 1
    assert stats["claude"]["total_messages"] == 7 and stats["claude"]["last_capture_at"] is not None


def test_a_retried_failed_source_points_at_its_failed_attempt(vivim: Vivim, alice: UserRecord, tmp_path: Path) -> None:
    bad = tmp_path / "export.json"
    bad.write_text("[{")
    run_import(vivim, alice, bad)
    run_import(vivim, alice, bad)
    with vivim.master.session() as s:
        attempts = [a for a in captures.recent_attempts(s, user_id=alice.id) if a["source_url"].startswith("file://")]
    newest, older = attempts[0], attempts[1]
    assert newest["retry_of"] == older["id"] and newest["retry_count"] == 1


# -- bad input -------------------------------------------------------------------------------


def test_malformed_json_keeps_the_good_records_and_names_the_file_and_record(
    vivim: Vivim, alice: UserRecord, tmp_path: Path
) -> None:
    good = json.loads(json.dumps(_generic([_msg(0, "hello"), _msg(1, "hi")])))
    conv = good["conversations"][0]
    text = json.dumps([{"title": "ok", "id": "c1", "mapping": {
        "r": {"id": "r", "message": None, "parent": None, "children": ["a"]},
        "a": {"id": "a", "parent": "r", "children": [], "message": {
            "id": "a", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["hello"]},
            "create_time": 1.0}}}, "current_node": "a"}])
    broken = tmp_path / "conversations.json"
    broken.write_text(text[:-1] + ', {"title": "cut', encoding="utf-8")
    [fs] = run_import(vivim, alice, broken).files
    assert fs.created == 1 and fs.status == "partial"
    assert "conversations.json" in fs.errors[0]["message"] and "record 1" in fs.errors[0]["message"]
    del conv


def test_an_empty_file_an_unknown_format_and_a_truncated_zip_fail_clearly(
    vivim: Vivim, alice: UserRecord, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    unknown = tmp_path / "notes.json"
    unknown.write_text('{"hello": "world"}')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("conversations.json", "[" + ",".join(['{"x": 1}'] * 2000) + "]")
    truncated = tmp_path / "export.zip"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    summary = run_import(vivim, alice, empty, unknown, truncated, tmp_path / "missing.json")
    messages = [fs.errors[0]["message"] for fs in summary.files]
    assert [fs.status for fs in summary.files] == ["failed"] * 4
    assert "empty.json: the file is empty" in messages[0]
    assert "notes.json: unrecognised format" in messages[1]
    assert "export.zip" in messages[2] and "zip" in messages[2]
    assert "no such file" in messages[3]
    assert not summary.ok
    assert table_counts(vivim, alice)["conversations"] == 0


def test_the_cli_exits_non_zero_when_nothing_could_be_imported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.e2e.cli import vivim as cli

    cli(capsys, "user", "create", "alice")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    result = cli(capsys, "--user", "alice", "import", str(empty), "--json", "--no-index")
    assert result.code == 1
    assert result.json()["files"][0]["errors"][0]["message"].endswith("the file is empty")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(_generic([_msg(0, "hello")])))
    assert cli(capsys, "--user", "alice", "import", str(ok), str(empty), "--json", "--no-index").code == 0


def test_a_crash_mid_import_then_a_rerun_equals_one_clean_import(vivim: Vivim, alice: UserRecord, tmp_path: Path) -> None:
    export = tmp_path / "conversations.json"
    with open(export, "w") as f:
        write_export(f, 2500, 25_000, seed=3)
    env = {**os.environ, "VIVIM_DATA_DIR": str(vivim.settings.data_dir), "PYTHONPATH": str(REPO)}
    vivim.router.close_all()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vivim.cli.main", "--user", "alice", "import", str(export), "--json", "--no-index"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    db = vivim.router.path_for(alice.id)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            stored = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            conn.close()
        except sqlite3.OperationalError:
            stored = 0
        if stored:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < stored < 2500, "the import must be killed part-way through"
    rerun = run_import(vivim, alice, export)
    assert rerun.totals()["failed"] == 0

    clean_user = vivim.create_user("clean")
    run_import(vivim, clean_user, export)
    vivim.router.close_all()
    assert vault_snapshot(db) == vault_snapshot(vivim.router.path_for(clean_user.id))


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "child-process"])
def test_imports_stream_with_bounded_memory(tmp_path: Path, in_child: bool) -> None:
    """Peak memory (of the importer and its parser process) grows far less than the input:
    a 4x larger file costs little more, whichever way it is parsed. Memory is bounded by the
    batch size plus SQLite's page cache; both are made small here so that both inputs span
    many batches and the cache does not hide the difference."""
    script = (
        "import resource, sys; from pathlib import Path; from vivim.app import open_vivim;"
        "from vivim.capture.importer import Importer;"
        "v = open_vivim(sys.argv[2]); v.init(); u = v.create_user('m');"
        "s = Importer(store=v.store(u), master=v.master, user_id=u.id).import_paths([Path(sys.argv[1])]);"
        "assert s.ok; print(max(resource.getrusage(r).ru_maxrss for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VIVIM_IMPORT_CHILD_MIN_BYTES": "0" if in_child else str(1 << 40),
        "VIVIM_IMPORT_BATCH_MESSAGES": "1000",  # both inputs span many batches
        "VIVIM_IMPORT_CACHE_KIB": "2048",  # and SQLite's page cache (64 MiB by default) stays small
    }
    peaks, sizes = [], []
    for i, n in enumerate((600, 2_400)):
        export = tmp_path / f"e{i}.json"
        with open(export, "w") as f:
            write_export(f, n, n * 10, seed=i)
        sizes.append(export.stat().st_size / 1e6)
        out = subprocess.run([sys.executable, "-c", script, str(export), str(tmp_path / f"d{i}")],
                             capture_output=True, text=True, check=True, env=env)
        peaks.append(int(out.stdout.strip()) / 1024)
    assert sizes[1] > 3.5 * sizes[0]
    assert peaks[1] - peaks[0] < (sizes[1] - sizes[0]) / 2, (peaks, sizes)


def test_parsing_in_a_child_process_stores_exactly_what_parsing_here_does(
    vivim: Vivim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big inputs are parsed (and their tokens counted) in other processes: same rows, same
    token counts, same errors in the same order as the in-process path."""
    buf = io.StringIO()
    write_export(buf, 120, 1_500, seed=5)
    records = json.loads(buf.getvalue())
    records.insert(40, 7)  # not a conversation
    records.insert(90, {"title": "no mapping", "id": "broken"})
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(records), encoding="utf-8")
    monkeypatch.setenv("VIVIM_IMPORT_BATCH_MESSAGES", "300")  # many batches in flight
    outcomes = {}
    for name, threshold in (("here", str(1 << 40)), ("child", "0")):
        monkeypatch.setenv("VIVIM_IMPORT_CHILD_MIN_BYTES", threshold)
        user = vivim.create_user(name)
        [fs] = run_import(vivim, user, export).files
        outcomes[name] = (fs.created, fs.failed, fs.new_messages, [e["record"] for e in fs.errors])
    assert outcomes["here"] == outcomes["child"] and outcomes["here"][:2] == (120, 2)
    vivim.router.close_all()
    here, child = (vault_snapshot(vivim.router.path_for(vivim.get_user(n).id)) for n in ("here", "child"))
    assert here == child and all(m[9] > 0 for m in child["messages"])


def test_members_of_an_archive_that_hold_no_conversations_are_skipped_not_failed(
    vivim: Vivim, alice: UserRecord, tmp_path: Path
) -> None:
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("conversations.json", json.dumps(_generic([_msg(0, "hello"), _msg(1, "hi")])))
        zf.writestr("user.json", json.dumps({"id": "user-1", "email": "a@example.org"}))
        zf.writestr("message_feedback.json", "[]")
    summary = run_import(vivim, alice, archive)
    statuses = {Path(fs.source.split("!")[1]).name: fs.status for fs in summary.files}
    assert statuses == {"conversations.json": "imported", "user.json": "skipped", "message_feedback.json": "skipped"}
    assert summary.ok and summary.totals()["created"] == 1


def test_exporting_and_reimporting_elsewhere_gives_back_the_same_conversations(
    vivim: Vivim, alice: UserRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.cli import vivim as cli

    paths = [shared_fixture(f[0]) for f in FIXTURES]
    run_import(vivim, alice, *paths)
    out = tmp_path / "alice.vivim.json"
    assert cli(capsys, "--user", "alice", "export", str(out)).code == 0
    bob = vivim.create_user("bob")
    [fs] = run_import(vivim, bob, out).files
    assert fs.format == "vivim-json" and fs.failed == 0 and fs.created == table_counts(vivim, alice)["conversations"]
    vivim.router.close_all()
    # Same ids, hashes, messages, parts, parents, branch flags and counters: lossless.
    assert vault_snapshot(vivim.router.path_for(bob.id)) == vault_snapshot(vivim.router.path_for(alice.id))
    with sqlite3.connect(vivim.router.path_for(bob.id)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM custom_instructions").fetchone()[0] == table_counts(vivim, alice)[
            "custom_instructions"
        ]
