"""Units, indexing and hybrid search on real user DBs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import HashingEmbedder
from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer
from vivim.search.engine import Filters, SearchEngine
from vivim.search.indexer import Indexer
from vivim.store.user import units as unit_store

VAULT = {
    "format": "vivim.conversations/v1",
    "conversations": [
        {
            "id": "wal",
            "title": "SQLite WAL",
            "provider": "chatgpt",
            "created_at": "2024-03-02T09:00:00Z",
            "messages": [
                {
                    "id": "w1",
                    "role": "user",
                    "author": "ana",
                    "created_at": "2024-03-02T09:00:00Z",
                    "text": "Readers block while my import runs on SQLite. What should I change?",
                },
                {
                    "id": "w2",
                    "parent_id": "w1",
                    "role": "assistant",
                    "author": "gpt-4o",
                    "created_at": "2024-03-02T09:00:10Z",
                    "text": "Enable write-ahead logging so readers never wait for the writer:\n\n"
                    "```python\nconn.execute('PRAGMA journal_mode=WAL')\n```",
                },
            ],
        },
        {
            "id": "trip",
            "title": "Dolomites",
            "provider": "claude",
            "created_at": "2024-07-10T18:00:00Z",
            "messages": [
                {
                    "id": "t1",
                    "role": "user",
                    "author": "ana",
                    "created_at": "2024-07-10T18:00:00Z",
                    "text": "I am vegetarian and want a five day hut to hut hike in September.",
                },
                {
                    "id": "t2",
                    "parent_id": "t1",
                    "role": "assistant",
                    "author": "claude",
                    "created_at": "2024-07-10T18:00:30Z",
                    "text": "The Alta Via 1 fits five days; the huts serve vegetarian dinners.",
                },
            ],
        },
    ],
}


@pytest.fixture
def ana(vivim: Vivim, tmp_path: Path) -> UserRecord:
    user = vivim.create_user("ana")
    path = tmp_path / "vault.json"
    path.write_text(json.dumps(VAULT))
    assert Importer(store=vivim.store(user), master=vivim.master, user_id=user.id).import_paths([path]).ok
    return user


def indexer(vivim: Vivim, user: UserRecord, embedder: Any = None) -> Indexer:
    return Indexer(vivim.store(user), keypair=vivim.keypair(user), embedder=embedder)


def test_search_on_an_empty_vault_returns_nothing(vivim: Vivim) -> None:
    user = vivim.create_user("empty")
    engine = SearchEngine(HashingEmbedder())
    assert engine.search(vivim.store(user), "anything at all") == []
    indexer(vivim, user, HashingEmbedder()).run()
    assert engine.search(vivim.store(user), "anything at all") == []


def test_full_text_search_works_before_anything_is_embedded(vivim: Vivim, ana: UserRecord) -> None:
    indexer(vivim, ana).run(embed=False)
    hits = SearchEngine(HashingEmbedder()).search(vivim.store(ana), "vegetarian hike", limit=3)
    assert hits and hits[0].conversation_id is not None
    assert "vegetarian" in hits[0].text
    assert hits[0].message_source_id in {"t1", "t2"}  # the provider's own message id
    assert hits[0].provider == "claude"


@pytest.mark.parametrize(
    "query",
    [
        '"',
        'unbalanced "quote',
        "a*",
        "NEAR(wal readers)",
        "-writer",
        "wal AND OR NOT",
        "col:x",
        "((",
        "^",
        "",
    ],
)
def test_queries_with_fts_syntax_never_error(vivim: Vivim, ana: UserRecord, query: str) -> None:
    indexer(vivim, ana, HashingEmbedder()).run()
    SearchEngine(HashingEmbedder()).search(vivim.store(ana), query)


def test_filters_narrow_both_sides(vivim: Vivim, ana: UserRecord) -> None:
    indexer(vivim, ana, HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(ana)
    query = "readers writer vegetarian hike"
    assert {h.provider for h in engine.search(store, query, filters=Filters(provider="claude"))} == {"claude"}
    assert {h.role for h in engine.search(store, query, filters=Filters(role="assistant"))} == {"assistant"}
    code = engine.search(store, "journal_mode WAL", filters=Filters(type="code_snippet"))
    assert code and {h.type for h in code} == {"code_snippet"}
    july = engine.search(store, query, filters=Filters(since="2024-07-01", until="2024-08-01"))
    assert july and all(h.source_timestamp.startswith("2024-07") for h in july)
    with sqlite3.connect(vivim.router.path_for(ana.id)) as conn:
        wal_id = conn.execute("SELECT id FROM conversations WHERE source_id = 'wal'").fetchone()[0]
    one = engine.search(store, query, filters=Filters(conversation_id=wal_id))
    assert one and {h.conversation_id for h in one} == {wal_id}
    assert engine.search(store, query, filters=Filters(provider="nobody")) == []


def test_a_named_participant_is_matched_by_who_spoke_not_by_the_word(vivim: Vivim, ana: UserRecord) -> None:
    indexer(vivim, ana, HashingEmbedder()).run()
    hits = SearchEngine(HashingEmbedder()).search(vivim.store(ana), "What does ana want to hike?", limit=2)
    assert hits[0].author == "ana" and "hike" in hits[0].text


def test_reextracting_an_unchanged_vault_keeps_unit_ids(
    vivim: Vivim, ana: UserRecord, tmp_path: Path
) -> None:
    indexer(vivim, ana).run(embed=False)
    with vivim.store(ana).read() as conn:
        before = {r[0] for r in conn.execute("SELECT id FROM atomic_chat_units")}
        conn.execute("UPDATE conversations SET units_state = NULL")  # force re-extraction
    report = indexer(vivim, ana).run(embed=False)
    with vivim.store(ana).read() as conn:
        after = {r[0] for r in conn.execute("SELECT id FROM atomic_chat_units")}
    assert before == after and report.units_added == report.units_removed == 0
    # A changed message replaces only its own units.
    grown = json.loads(json.dumps(VAULT))
    grown["conversations"][1]["messages"][1]["text"] = (
        "The Alta Via 2 is harder; huts still serve vegetarian food."
    )
    path = tmp_path / "grown.json"
    path.write_text(json.dumps(grown))
    Importer(store=vivim.store(ana), master=vivim.master, user_id=ana.id).import_paths([path])
    report = indexer(vivim, ana).run(embed=False)
    with vivim.store(ana).read() as conn:
        again = {r[0] for r in conn.execute("SELECT id FROM atomic_chat_units")}
    assert report.units_removed >= 1 and report.units_added >= 1
    assert len(before - again) == report.units_removed and len(again - before) == report.units_added


def _fts_segments(vivim: Vivim, user: UserRecord) -> int:
    with vivim.store(user).read() as conn:
        return conn.execute("SELECT count(DISTINCT segid) FROM unit_fts_idx").fetchone()[0]


@pytest.mark.parametrize("merge", [False, True])
def test_a_big_extraction_leaves_the_full_text_index_in_one_segment(
    vivim: Vivim, ana: UserRecord, monkeypatch: pytest.MonkeyPatch, merge: bool
) -> None:
    import vivim.search.indexer as indexer_module

    monkeypatch.setattr(indexer_module, "EXTRACT_BATCH", 1)  # one segment per conversation
    monkeypatch.setattr(indexer_module, "FTS_MERGE_MIN_UNITS", 1 if merge else 10**9)
    indexer(vivim, ana).run(embed=False)
    assert (_fts_segments(vivim, ana) == 1) == merge
    hits = SearchEngine(None).search(vivim.store(ana), "vegetarian hike september", limit=3)
    assert hits and "vegetarian" in hits[0].text  # the merged index answers as before


def test_a_killed_embedding_run_resumes_where_it_stopped(
    vivim: Vivim, ana: UserRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vivim.search.indexer as ix

    monkeypatch.setattr(ix, "EMBED_BATCH", 1)  # one conversation per committed batch
    indexer(vivim, ana).run(embed=False)
    with pytest.raises(KeyboardInterrupt):
        indexer(vivim, ana, HashingEmbedder(fail_after_batches=1)).run()
    with vivim.store(ana).read() as conn:
        total, embedded = unit_store.count_units(conn)
    assert 0 < embedded < total
    counting = HashingEmbedder()
    report = indexer(vivim, ana, counting).run()
    with vivim.store(ana).read() as conn:
        assert unit_store.count_units(conn) == (total, total)
    assert report.units_embedded == total - embedded  # nothing embedded twice
    with vivim.store(ana).read() as conn:
        models = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT embedding_model || ':' || embedding_dim FROM atomic_chat_units"
            )
        }
    assert models == {"test-hashing-64:64"}


def test_every_unit_is_signed_and_tampering_is_detected(
    vivim: Vivim, ana: UserRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.cli import vivim as cli

    indexer(vivim, ana).run(embed=False)
    vivim.router.close_all()
    ok = cli(capsys, "--user", "ana", "verify", "--json")
    assert ok.code == 0 and ok.json()["invalid"] == 0 and ok.json()["units"] > 0
    with sqlite3.connect(vivim.router.path_for(ana.id)) as conn:
        conn.execute(
            "UPDATE atomic_chat_units SET content = content || ' (edited)' WHERE rowid = (SELECT MIN(rowid) FROM atomic_chat_units)"
        )
    bad = cli(capsys, "--user", "ana", "verify", "--json")
    assert bad.code == 1 and bad.json()["invalid"] == 1


def test_search_with_the_real_local_model_finds_the_paraphrase(vivim: Vivim, ana: UserRecord) -> None:
    """No word of the query is in the answer: only the embedding model can find it."""
    indexer(vivim, ana, vivim.embedder).run()
    hits = vivim.search_engine().search(vivim.store(ana), "concurrent database access locking", limit=3)
    assert hits and hits[0].conversation_title == "SQLite WAL"
    with vivim.store(ana).read() as conn:
        assert {r[0] for r in conn.execute("SELECT DISTINCT embedding_model FROM atomic_chat_units")} == {
            "all-MiniLM-L6-v2-onnx-int8"
        }


def test_related_links_join_similar_units_across_conversations_only(vivim: Vivim, tmp_path: Path) -> None:
    from vivim.units.links import RELATED_THRESHOLD

    user = vivim.create_user("rel")
    text = "Vacuum the SQLite database after deleting many rows to reclaim disk space."
    vault = {
        "format": "vivim.conversations/v1",
        "conversations": [
            {
                "id": f"c{i}",
                "title": f"c{i}",
                "provider": "chatgpt",
                "messages": [
                    {"id": "m1", "role": "user", "text": text},
                    {
                        "id": "m2",
                        "parent_id": "m1",
                        "role": "assistant",
                        "text": f"Unrelated answer number {i} about tulips.",
                    },
                ],
            }
            for i in range(2)
        ],
    }
    path = tmp_path / "rel.json"
    path.write_text(json.dumps(vault))
    Importer(store=vivim.store(user), master=vivim.master, user_id=user.id).import_paths([path])
    report = indexer(vivim, user, HashingEmbedder()).run()
    assert report.related_links >= 1
    with vivim.store(user).read() as conn:
        rows = conn.execute(
            "SELECT s.conversation_id, t.conversation_id, l.weight, s.content FROM acu_links l"
            " JOIN atomic_chat_units s ON s.id = l.source_id JOIN atomic_chat_units t ON t.id = l.target_id"
            " WHERE l.relation = 'related'"
        ).fetchall()
    assert rows and all(a != b and w >= RELATED_THRESHOLD for a, b, w, _ in rows)


def test_deleting_a_conversation_removes_its_units_from_search(vivim: Vivim, ana: UserRecord) -> None:
    from vivim.store.user.conversations import delete_conversation

    indexer(vivim, ana, HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(ana)
    assert engine.search(store, "vegetarian hike")
    with store.transaction() as conn:
        trip = conn.execute("SELECT id FROM conversations WHERE source_id = 'trip'").fetchone()[0]
        assert delete_conversation(conn, trip)
        # The contentless full-text index holds no entry for the deleted units any more.
        assert conn.execute("SELECT count(*) FROM unit_fts WHERE unit_fts MATCH 'vegetarian'").fetchone()[0] == 0
    assert all(h.conversation_id != trip for h in engine.search(store, "vegetarian hike"))


def test_search_stdin_answers_one_json_line_per_query(
    vivim: Vivim, ana: UserRecord, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from tests.e2e.cli import vivim as cli

    indexer(vivim, ana).run(embed=False)
    with vivim.store(ana).read() as conn:
        assert {r[0] for r in conn.execute("SELECT DISTINCT parser_version FROM atomic_chat_units")} == {"capture-1"}
    vivim.router.close_all()
    monkeypatch.setattr("sys.stdin", io.StringIO("vegetarian hike\nwrite-ahead logging readers\n"))
    result = cli(capsys, "--user", "ana", "search", "--stdin", "--json", "--limit", "2")
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert result.code == 0 and [x["query"] for x in lines] == ["vegetarian hike", "write-ahead logging readers"]
    assert "vegetarian" in lines[0]["hits"][0]["text"] and len(lines[1]["hits"]) <= 2
    assert {"unit_id", "conversation_id", "message_id", "message_source_id", "score", "text"} <= lines[1]["hits"][0].keys()


def test_concurrent_searches_find_what_one_at_a_time_finds(vivim: Vivim, ana: UserRecord) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from vivim.search.vectors import _Readers

    indexer(vivim, ana, HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(ana)
    queries = ["vegetarian hike", "readers writer", "journal_mode WAL", "September huts", "ana dinner"] * 8
    alone = [engine.search(store, q, limit=3) for q in queries]
    assert all(alone[:4])
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda q: engine.search(store, q, limit=3), queries))
    assert together == alone
    readers = store.memo["search_readers"]
    assert isinstance(readers, _Readers) and 1 <= len(readers._idle) <= _Readers.MAX_IDLE


def test_search_sees_what_is_committed_after_its_connections_opened(
    vivim: Vivim, ana: UserRecord, tmp_path: Path
) -> None:
    indexer(vivim, ana, HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(ana)
    before = engine.search(store, "ferrata")  # opens the search connections
    assert "search_readers" in store.memo and all(h.conversation_title != "Via ferrata" for h in before)
    more = {
        "format": "vivim.conversations/v1",
        "conversations": [
            {"id": "via", "title": "Via ferrata", "provider": "claude",
             "messages": [{"id": "v1", "role": "user", "text": "Which via ferrata suits a beginner?"}]}
        ],
    }
    path = tmp_path / "more.json"
    path.write_text(json.dumps(more))
    assert Importer(store=store, master=vivim.master, user_id=ana.id).import_paths([path]).ok
    indexer(vivim, ana, HashingEmbedder()).run()
    hits = engine.search(store, "ferrata")
    assert hits and hits[0].message_source_id == "v1" and hits[0].conversation_title == "Via ferrata"


def test_searching_a_closed_store_fails_cleanly_and_lets_its_connections_go(vivim: Vivim, ana: UserRecord) -> None:
    from vivim.domain.errors import CorruptDatabase

    indexer(vivim, ana, HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(ana)
    assert engine.search(store, "vegetarian hike")
    readers = store.memo["search_readers"]
    idle = list(readers._idle)
    assert idle
    store.close()
    with pytest.raises(CorruptDatabase):
        engine.search(store, "vegetarian hike")
    assert "search_readers" not in store.memo and readers._idle == []
    with pytest.raises(sqlite3.ProgrammingError):  # closed, not left open until garbage collection
        idle[0].execute("SELECT 1")


def test_a_query_is_embedded_by_the_int8_model_close_to_the_float_one(
    vivim: Vivim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries run on an int8 model derived (once, then cached) from the packaged one: the
    same direction as the float model's vector of the same text, and always the same."""
    import numpy as np

    from vivim.embed.minilm import MiniLMEmbedder

    monkeypatch.setenv("VIVIM_CACHE_DIR", str(tmp_path / "cache"))
    embedder = MiniLMEmbedder()
    texts = ["concurrent database access locking", "a five day hut to hut hike", "x"]
    batch = embedder.embed(texts)
    for text, expected in zip(texts, batch, strict=True):
        got = embedder.embed_query(text)
        assert got.shape == (384,) and got.dtype == np.float32
        assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5
        assert float(got @ expected) > 0.97
        assert np.array_equal(embedder.embed_query(text), got)
    derived = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*.onnx")}
    assert sorted(name.split("-")[1] for name in derived) == ["fused", "query"]
    again = MiniLMEmbedder()
    again.embed_query("x")  # the cached files, not derived again
    again.embed(["x"])
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*.onnx")} == derived


def test_without_a_writable_cache_documents_and_queries_use_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from vivim.embed.minilm import MiniLMEmbedder

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("VIVIM_CACHE_DIR", str(blocker / "cache"))
    embedder = MiniLMEmbedder()
    text = "a five day hut to hut hike"
    assert float(embedder.embed_query(text) @ embedder.embed([text])[0]) > 0.9999
    assert "int8 query model unavailable, using the packaged model" in caplog.text
    assert "fused document model unavailable, using the packaged model" in caplog.text
