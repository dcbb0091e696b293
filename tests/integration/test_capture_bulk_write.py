"""The importer's bulk write of new conversations, and what happens when it fails.

New conversations of a batch go in with two bulk statements outside any savepoint; when
one row breaks a constraint the whole batch transaction is rolled back and written again
one conversation at a time, so the others are stored and the broken one is named.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer


def _conversation(cid: str, url: str, n: int) -> dict[str, object]:
    return {
        "id": cid,
        "title": f"title {cid}",
        "provider": "chatgpt",
        "url": url,
        "created_at": "2024-03-01T10:00:00Z",
        "messages": [
            {
                "id": f"{cid}-m{i}",
                "parent_id": f"{cid}-m{i - 1}" if i else None,
                "role": "user" if i % 2 == 0 else "assistant",
                "created_at": f"2024-03-01T10:00:{i:02d}Z",
                "text": f"message {i} of {cid}",
            }
            for i in range(n)
        ],
    }


def _write(path: Path, conversations: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"format": "vivim.conversations/v1", "conversations": conversations}))
    return path


def test_a_row_that_breaks_the_bulk_insert_costs_only_its_conversation(vivim: Vivim, tmp_path: Path) -> None:
    alice: UserRecord = vivim.create_user("alice")
    thresholds = gc.get_threshold()
    # "b" reuses a's share URL, which is unique per user: the bulk insert of the batch fails.
    export = _write(
        tmp_path / "export.json",
        [
            _conversation("a", "https://example.com/share/1", 3),
            _conversation("b", "https://example.com/share/1", 2),
            _conversation("c", "https://example.com/share/3", 4),
        ],
    )
    summary = Importer(store=vivim.store(alice), master=vivim.master, user_id=alice.id).import_paths([export])
    [fs] = summary.files
    assert (fs.created, fs.failed, fs.new_messages, fs.status) == (2, 1, 7, "partial")
    [error] = fs.errors
    assert error["code"] == "store_error" and "'b'" in error["message"] and "UNIQUE" in error["message"]
    with vivim.store(alice).read() as conn:
        stored = dict(conn.execute("SELECT source_id, message_count FROM conversations").fetchall())
        messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        orphans = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE conversation_id NOT IN (SELECT id FROM conversations)"
        ).fetchone()[0]
    assert stored == {"a": 3, "c": 4}
    assert (messages, orphans) == (7, 0)
    # Foreign-key checks are off only during the bulk statements, and the garbage
    # collector's thresholds (raised during the import) are back.
    with vivim.store(alice).read() as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert gc.get_threshold() == thresholds


def test_bulk_rows_match_the_one_by_one_rows(vivim: Vivim, tmp_path: Path) -> None:
    """The same conversations written by the bulk path and by the one-by-one path (the
    fallback) are stored identically, token counts included."""
    alice = vivim.create_user("alice")
    bob = vivim.create_user("bob")
    convs = [_conversation(c, f"https://example.com/share/{c}", 3) for c in ("a", "b")]
    _write(tmp_path / "good.json", convs)
    # For bob, a third conversation clashes with "a" so the batch is written one by one.
    _write(tmp_path / "clash.json", [*convs, _conversation("z", "https://example.com/share/a", 1)])
    Importer(store=vivim.store(alice), master=vivim.master, user_id=alice.id).import_paths(
        [tmp_path / "good.json"]
    )
    Importer(store=vivim.store(bob), master=vivim.master, user_id=bob.id).import_paths(
        [tmp_path / "clash.json"]
    )

    def rows(user: UserRecord) -> list[tuple[object, ...]]:
        with vivim.store(user).read() as conn:
            return conn.execute(
                "SELECT m.id, m.parent_id, m.role, m.parts, m.content_hash, m.token_count, m.message_index,"
                " c.content_hash, c.total_tokens, c.total_words FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id ORDER BY m.id"
            ).fetchall()

    alice_rows, bob_rows = rows(alice), rows(bob)
    assert len(alice_rows) == 6 and alice_rows == bob_rows
    # "message 0 of a" is 5 cl100k tokens ("message", " ", "0", " of", " a"); 3 per conversation.
    assert {r[5] for r in alice_rows} == {5} and {r[8] for r in alice_rows} == {15}


def test_the_bulk_write_logs_one_stamped_insert_per_row_as_the_triggers_would(vivim: Vivim, tmp_path: Path) -> None:
    alice: UserRecord = vivim.create_user("alice")
    export = _write(tmp_path / "export.json", [_conversation("a", "https://x.test/1", 3), _conversation("b", "https://x.test/2", 2)])
    Importer(store=vivim.store(alice), master=vivim.master, user_id=alice.id).import_paths([export])
    with vivim.store(alice).read() as conn:
        logged = conn.execute(
            "SELECT table_name, record_id, operation, hlc IS NOT NULL, device_id IS NOT NULL FROM sync_operations"
            " WHERE table_name IN ('conversations', 'messages') ORDER BY seq"
        ).fetchall()
        conversations = {r[0] for r in conn.execute("SELECT id FROM conversations")}
        messages = {r[0] for r in conn.execute("SELECT id FROM messages")}
        paused = conn.execute("SELECT count(*) FROM sync_pause").fetchone()[0]
    assert paused == 0  # the triggers are live again for every later write
    assert [r[0] for r in logged] == ["conversations"] * 2 + ["messages"] * 5
    assert {r[1] for r in logged if r[0] == "conversations"} == conversations
    assert {r[1] for r in logged if r[0] == "messages"} == messages and len(messages) == 5
    assert all(op == "insert" and stamped and device for _t, _id, op, stamped, device in logged)
