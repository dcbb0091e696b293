"""Merging: last writer wins by clock then device, tombstones, idempotence, refusals,
recorded conflicts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.sync_support import add_fact, hub_sync, make_store, snapshot
from vivim.domain import hlc
from vivim.store.user.db import UserStore
from vivim.sync.merge import Op, merge

NOW = 1_800_000_000_000


def _fact_row(fact_id: str, content: str) -> dict[str, object]:
    return {
        "id": fact_id, "category": "general", "content": content, "content_hash": "h:" + content,
        "confidence": 1.0, "importance": 5, "pinned": 0, "archived": 0, "source_conversation_id": None,
        "source_message_id": None, "created_at": "t", "updated_at": "t", "metadata": "{}",
    }


def _op(fact_id: str, content: str | None, clock: str, device: str) -> Op:
    row = None if content is None else _fact_row(fact_id, content)
    return Op("user_facts", fact_id, "delete" if content is None else "update", clock, device, row)


def _facts(store: UserStore) -> list[tuple[str, str]]:
    with store.read() as conn:
        return conn.execute("SELECT id, content FROM user_facts ORDER BY id").fetchall()


def _conflicts(store: UserStore) -> list[tuple[str, str, str]]:
    with store.read() as conn:
        return conn.execute("SELECT kind, record_id, loser_device FROM sync_conflicts ORDER BY id").fetchall()


def _clock(ms: int, n: int = 0) -> str:
    return str(hlc.Hlc(ms, n))


def test_the_later_clock_wins_whatever_the_arrival_order(tmp_path: Path) -> None:
    early, late = _op("f1", "early", _clock(NOW - 10), "b" * 32), _op("f1", "late", _clock(NOW - 5), "a" * 32)
    one, two = make_store(tmp_path, "one"), make_store(tmp_path, "two")
    merge(one, [early, late], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(two, [late], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(two, [early], peer="p", seen_up_to=0, wall_ms=NOW)
    assert _facts(one) == _facts(two) == [("f1", "late")]


def test_equal_clocks_are_broken_by_device_id(tmp_path: Path) -> None:
    a, b = _op("f1", "from a", _clock(NOW), "a" * 32), _op("f1", "from b", _clock(NOW), "b" * 32)
    one, two = make_store(tmp_path, "one"), make_store(tmp_path, "two")
    merge(one, [a, b], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(two, [b, a], peer="p", seen_up_to=0, wall_ms=NOW)
    assert _facts(one) == _facts(two) == [("f1", "from b")]


def test_applying_an_operation_twice_changes_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path, "one")
    op = _op("f1", "x", _clock(NOW), "a" * 32)
    first = merge(store, [op], peer="p", seen_up_to=0, wall_ms=NOW)
    with store.read() as conn:
        log_before = conn.execute("SELECT * FROM sync_operations").fetchall()
    second = merge(store, [op, op], peer="p", seen_up_to=0, wall_ms=NOW)
    with store.read() as conn:
        log_after = conn.execute("SELECT * FROM sync_operations").fetchall()
    assert (first.applied, first.skipped) == (1, 0)
    assert (second.applied, second.skipped) == (0, 2)
    assert log_before == log_after and _facts(store) == [("f1", "x")]


def test_a_delete_is_a_tombstone_that_an_older_update_cannot_undo(tmp_path: Path) -> None:
    store = make_store(tmp_path, "one")
    merge(store, [_op("f1", "x", _clock(NOW - 30), "a" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(store, [_op("f1", None, _clock(NOW - 20), "b" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(store, [_op("f1", "stale", _clock(NOW - 25), "a" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    assert _facts(store) == []
    # A tombstone for a record never seen is kept too, so the record cannot come back.
    merge(store, [_op("f9", None, _clock(NOW - 20), "b" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    merge(store, [_op("f9", "late", _clock(NOW - 21), "a" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    assert _facts(store) == []
    with store.read() as conn:
        assert conn.execute(
            "SELECT record_id, operation FROM sync_versions ORDER BY record_id"
        ).fetchall() == [("f1", "delete"), ("f9", "delete")]


def test_a_clock_far_in_the_future_is_rejected_and_recorded(tmp_path: Path) -> None:
    store = make_store(tmp_path, "one")
    future = _op("f1", "from the future", _clock(NOW + hlc.MAX_DRIFT_MS + 1000), "a" * 32)
    result = merge(store, [future, _op("f2", "fine", _clock(NOW), "a" * 32)], peer="p", seen_up_to=0, wall_ms=NOW)
    assert (result.applied, result.rejected) == (1, 1)
    assert _facts(store) == [("f2", "fine")]
    assert _conflicts(store) == [("rejected", "f1", "a" * 32)]
    # Our own clock did not jump to the bad one.
    with store.read() as conn:
        from vivim.store.user import oplog

        assert oplog.clock(conn) < hlc.parse(future.hlc)


def test_unknown_tables_and_malformed_rows_are_rejected_and_the_rest_applied(tmp_path: Path) -> None:
    store = make_store(tmp_path, "one")
    bad_table = Op("secrets", "x", "insert", _clock(NOW), "a" * 32, {"id": "x"})
    wrong_key = Op("user_facts", "f1", "insert", _clock(NOW), "a" * 32, _fact_row("f2", "mismatch"))
    not_null = Op("user_facts", "f3", "insert", _clock(NOW), "a" * 32, {"id": "f3"})
    good = _op("f4", "ok", _clock(NOW), "a" * 32)
    result = merge(store, [bad_table, wrong_key, not_null, good], peer="p", seen_up_to=0, wall_ms=NOW)
    assert (result.applied, result.rejected) == (1, 3)
    assert _facts(store) == [("f4", "ok")]


def _node(store: UserStore) -> str:
    with store.read() as conn:
        return conn.execute("SELECT value FROM vault_meta WHERE key = 'sync_node'").fetchone()[0]


@pytest.mark.parametrize("later", ["laptop", "phone"])
def test_concurrent_edits_are_settled_once_and_the_loser_is_recorded(tmp_path: Path, later: str) -> None:
    laptop, phone, server = (make_store(tmp_path, n) for n in ("laptop", "phone", "server"))
    add_fact(laptop, "f1", "original")
    hub_sync(laptop, server, "laptop")
    hub_sync(phone, server, "phone")
    first, second = (phone, laptop) if later == "laptop" else (laptop, phone)
    with first.transaction() as conn:
        conn.execute("UPDATE user_facts SET content = 'edited first' WHERE id = 'f1'")
    time.sleep(0.005)  # a later millisecond: otherwise the device ids would decide
    with second.transaction() as conn:
        conn.execute("UPDATE user_facts SET content = 'edited later' WHERE id = 'f1'")
    hub_sync(phone, server, "phone")  # the phone's edit reaches the server first
    hub_sync(laptop, server, "laptop")  # the laptop pulls it while its own edit is unpushed
    hub_sync(phone, server, "phone")
    assert _facts(laptop) == _facts(phone) == _facts(server) == [("f1", "edited later")]
    # The conflict is found where the two edits meet: on the laptop, which held an edit the
    # server had not seen when the phone's arrived.
    assert _conflicts(phone) == _conflicts(server) == []
    with laptop.read() as conn:
        [(kind, payload, winner, loser)] = conn.execute(
            "SELECT kind, loser_payload, winner_device, loser_device FROM sync_conflicts"
        ).fetchall()
    assert '"edited first"' in payload
    if later == "laptop":
        assert (kind, winner, loser) == ("discarded", _node(laptop), _node(phone))
    else:
        assert (kind, winner, loser) == ("overwritten", _node(phone), _node(laptop))


def test_the_same_fact_added_on_two_devices_ends_as_one_record(tmp_path: Path) -> None:
    a, b, server = (make_store(tmp_path, n) for n in ("a", "b", "server"))
    add_fact(a, "fa", "likes tea")
    time.sleep(0.005)  # a later millisecond, so the later add wins (not the device ids)
    add_fact(b, "fb", "likes tea")  # same content hash, another id: a unique-key collision
    for _ in range(3):
        hub_sync(a, server, "a")
        hub_sync(b, server, "b")
    assert _facts(a) == _facts(b) == _facts(server) == [("fb", "likes tea")]
    assert snapshot(a) == snapshot(b) == snapshot(server)


@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_paging_gives_the_same_result(tmp_path: Path, page_size: int) -> None:
    a, b, server = (make_store(tmp_path, n) for n in ("a", "b", "server"))
    for i in range(7):
        add_fact(a, f"f{i}", f"fact {i}")
    with a.transaction() as conn:
        conn.execute("DELETE FROM user_facts WHERE id = 'f3'")
    hub_sync(a, server, "a", page_size=page_size)
    report = hub_sync(b, server, "b", page_size=page_size)
    assert report.pulled == 7  # 6 facts and one tombstone; f3 was sent once
    assert snapshot(a) == snapshot(b) == snapshot(server)


def _unit_search(store: UserStore, word: str) -> list[str]:
    with store.read() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT s.unit_id FROM unit_fts f JOIN unit_search_rows s ON s.rowid = f.rowid"
                " WHERE unit_fts MATCH ? ORDER BY s.unit_id",
                (word,),
            )
        ]


def test_units_travel_with_their_signature_and_stay_findable_by_full_text(tmp_path: Path) -> None:
    from vivim.store.user.units import insert_units

    a, b, server = (make_store(tmp_path, n) for n in ("a", "b", "server"))

    class Draft:
        id, content, content_hash, type, category = "u1", "the teapot is blue", "h1", "statement", "general"
        language = conversation_id = message_id = message_index = parent_id = provider = model = None
        source_timestamp, extractor_version, parser_version, role, position = "2026-03-01T00:00:00Z", "x", "y", None, 0
        metadata: dict[str, object] = {}
        tags: list[str] = []
        quality_overall = content_richness = structural_integrity = uniqueness = rediscovery_score = None

    with a.transaction() as conn:
        insert_units(conn, [Draft()], author_did="did:key:z", signatures=[b"\x00\xffsig"], authors=[None],
                     index_texts=["the teapot is blue"], created_at="2026-03-01T00:00:00Z")
        conn.execute("UPDATE atomic_chat_units SET embedding = x'00000000', embedding_dim = 1 WHERE id = 'u1'")
    hub_sync(a, server, "a")
    hub_sync(b, server, "b")
    assert _unit_search(b, "teapot") == ["u1"]
    with b.read() as conn:
        assert conn.execute("SELECT signature, embedding FROM atomic_chat_units").fetchall() == [(b"\x00\xffsig", None)]
    with a.transaction() as conn:
        conn.execute("UPDATE atomic_chat_units SET content = 'the kettle is red', index_text = 'the kettle is red',"
                     " content_hash = 'h2' WHERE id = 'u1'")
    hub_sync(a, server, "a")
    hub_sync(b, server, "b")
    assert (_unit_search(b, "teapot"), _unit_search(b, "kettle")) == ([], ["u1"])
    with a.transaction() as conn:
        conn.execute("DELETE FROM atomic_chat_units WHERE id = 'u1'")
    hub_sync(a, server, "a")
    hub_sync(b, server, "b")
    assert _unit_search(b, "kettle") == [] and snapshot(b) == snapshot(a)


def test_a_row_with_a_value_of_the_wrong_shape_is_rejected_alone(tmp_path: Path) -> None:
    store = make_store(tmp_path, "one")
    bad = _fact_row("f1", "x")
    bad["metadata"] = {"nested": "object"}
    ops = [
        Op("user_facts", "f1", "insert", _clock(NOW), "a" * 32, bad),
        _op("f2", "fine", _clock(NOW), "a" * 32),
    ]
    result = merge(store, ops, peer="p", seen_up_to=0, wall_ms=NOW)
    assert (result.applied, result.rejected) == (1, 1)
    assert _facts(store) == [("f2", "fine")]
