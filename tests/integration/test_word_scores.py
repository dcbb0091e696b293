"""Full-text ranking from kept per-word parts, against FTS5's own ranking of the whole query."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import HashingEmbedder
from vivim.app import UserRecord, Vivim
from vivim.capture.importer import Importer
from vivim.search import engine as engine_module
from vivim.search.engine import Filters, SearchEngine, lexical, query_words
from vivim.search.indexer import Indexer
from vivim.search.query import terms
from vivim.search.vectors import UnitIndex, index_for, search_reader
from vivim.search.word_scores import WordScores, phrase, summed
from vivim.store.user.conversations import delete_conversation

TEXTS = [
    "O'Brien moved the café to a new street in July; the café kept its name.",
    "Readers block while the import runs on SQLite, so enable WAL for the readers.",
    "The hike runs five days from hut to hut; vegetarian dinners at every hut.",
    "Running the naïve import twice doubled every row: make the import idempotent.",
    "July heat: start the hike before dawn and carry three litres of water.",
    "o'brien asked whether WAL mode survives a crash. It does, after recovery.",
    "Stemming maps runs, running and run to one term: run.",
    "Nothing in here shares a word with the questions below.",
]

QUERIES = [
    "café import",
    "o'brien readers",
    "running hike july",
    "hut hut vegetarian",
    "wal crash recovery import readers",
    "naive cafe",
    "run",
]


@pytest.fixture
def user(vivim: Vivim, tmp_path: Path) -> UserRecord:
    record = vivim.create_user("mia")
    conversations = [
        {
            "id": f"c{i // 2}",
            "title": f"Conversation {i // 2}",
            "provider": "chatgpt" if i < 4 else "claude",
            "created_at": f"2024-0{1 + i // 2}-0{1 + i % 2}T09:00:00Z",
            "messages": [
                {"id": f"m{i}", "role": "user", "created_at": f"2024-0{1 + i // 2}-0{1 + i % 2}T09:00:00Z",
                 "text": text},
            ],
        }
        for i, text in enumerate(TEXTS)
    ]
    path = tmp_path / "vault.json"
    path.write_text(json.dumps({"format": "vivim.conversations/v1", "conversations": conversations}))
    assert Importer(store=vivim.store(record), master=vivim.master, user_id=record.id).import_paths([path]).ok
    Indexer(vivim.store(record), keypair=vivim.keypair(record), embedder=None).run(embed=False)
    return record


def fts5_ranking(conn: sqlite3.Connection, ix: UnitIndex, query: str) -> dict[int, float]:
    """FTS5's BM25 of the query's words OR-ed together, for every unit it matches."""
    match = " OR ".join(phrase(w) for w in terms(query))
    found = conn.execute("SELECT rowid, -rank FROM unit_fts WHERE unit_fts MATCH ?", (match,)).fetchall()
    rows, known = ix.rows_of_rowids(np.array([r[0] for r in found], dtype=np.int64))
    return dict(zip(rows.tolist(), np.array([r[1] for r in found])[known].tolist(), strict=True))


@pytest.mark.parametrize("query", QUERIES)
def test_summed_word_parts_equal_fts5_ranking_of_the_whole_query(vivim: Vivim, user: UserRecord, query: str) -> None:
    store = vivim.store(user)
    ix = index_for(store)
    with search_reader(store) as conn:
        expected = fts5_ranking(conn, ix, query)
        for _ in range(2):  # first from FTS5, then from the kept parts
            rows, scores = summed([ix.word_scores.part(conn, ix, w) for w in terms(query)])
            assert dict(zip(rows.tolist(), scores.tolist(), strict=True)) == pytest.approx(expected, rel=1e-12)
    assert expected, "every query here matches something"
    assert len(ix.word_scores) == len(terms(query))


def test_a_word_found_nowhere_has_an_empty_part(vivim: Vivim, user: UserRecord) -> None:
    store = vivim.store(user)
    ix = index_for(store)
    with search_reader(store) as conn:
        rows, scores = ix.word_scores.part(conn, ix, "zeppelin")
        assert rows.size == scores.size == 0
        assert summed([(rows, scores)])[0].size == 0


def test_kept_parts_are_bounded_and_the_least_recently_used_go_first(vivim: Vivim, user: UserRecord) -> None:
    store = vivim.store(user)
    ix = index_for(store)
    ix.word_scores = WordScores(max_entries=3)
    with search_reader(store) as conn:
        for word in ("hut", "readers", "hut", "july"):  # 1, 1, (hut again), 2 units
            ix.word_scores.part(conn, ix, word)
        # 4 pairs for a bound of 3: the least recently used word went.
        assert list(ix.word_scores._parts) == ["hut", "july"]
        # Still ranked correctly once evicted: taken from FTS5 again.
        again = ix.word_scores.part(conn, ix, "hut")
        assert again[0].size == 1


def test_a_vault_change_ranks_with_fresh_parts(vivim: Vivim, user: UserRecord) -> None:
    store = vivim.store(user)
    engine = SearchEngine(None)
    before = engine.search(store, "café", limit=5)
    assert before and "café" in before[0].text
    old_index = index_for(store)
    assert len(old_index.word_scores) == 1
    with store.transaction() as conn:
        assert delete_conversation(conn, before[0].conversation_id)
    after = engine.search(store, "café", limit=5)
    assert index_for(store) is not old_index
    assert all(h.conversation_id != before[0].conversation_id for h in after)


def test_a_filtered_search_ranks_the_best_of_the_filtered_units(
    vivim: Vivim, user: UserRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With room for one candidate, the best match overall (a chatgpt unit) must not crowd out
    # the best claude one: the filter applies before the cut, not after.
    monkeypatch.setattr(engine_module, "CANDIDATES", 1)
    store = vivim.store(user)
    ix = index_for(store)
    query = "wal import readers"
    with search_reader(store) as conn:
        everything = fts5_ranking(conn, ix, query)
        claude = engine_module._mask(ix, Filters(provider="claude"))
        assert claude is not None
        best_overall = max(everything, key=everything.__getitem__)
        best_claude = max((r for r in everything if claude[r]), key=everything.__getitem__)
        assert not claude[best_overall]
        rows, _ = lexical(conn, ix, query_words(query), claude)
    assert best_claude in rows.tolist() and best_overall not in rows.tolist()


def test_word_counts_are_fts5_counts_and_kept(vivim: Vivim, user: UserRecord) -> None:
    store = vivim.store(user)
    ix = index_for(store)
    with search_reader(store) as conn:
        assert ix.word_scores.counts(conn, ["hut", "july", "café", "zeppelin"]) == {
            "hut": 1, "july": 2, "café": 1, "zeppelin": 0,
        }
        assert ix.word_scores._counts == {"hut": 1, "july": 2, "café": 1, "zeppelin": 0}
        ix.word_scores.part(conn, ix, "run")
        # A word with a kept part is counted from it, with no query.
        assert ix.word_scores.counts(conn, ["run"]) == {"run": 4}  # runs, runs, running, run
        assert "run" not in ix.word_scores._counts


def test_words_seen_before_are_ranked_without_another_thread(
    vivim: Vivim, user: UserRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    Indexer(vivim.store(user), keypair=vivim.keypair(user), embedder=HashingEmbedder()).run()
    engine, store = SearchEngine(HashingEmbedder()), vivim.store(user)
    monkeypatch.setattr(engine_module, "_CORES", 2)  # a core to spare, whatever the machine
    pool = engine_module._pool()
    handed_over: list[str] = []
    monkeypatch.setattr(engine_module, "_pool", lambda: handed_over.append("lexical") or pool)
    first = engine.search(store, "café import")
    assert handed_over == ["lexical"]  # new words: FTS5 ranks them beside the embedding
    assert engine.search(store, "import, café?") == first
    assert handed_over == ["lexical"]  # the same words: summed from kept parts, in line


def test_kept_parts_cannot_be_changed_by_a_search(vivim: Vivim, user: UserRecord) -> None:
    store = vivim.store(user)
    ix = index_for(store)
    with search_reader(store) as conn:
        rows, scores = ix.word_scores.part(conn, ix, "july")
    with pytest.raises(ValueError, match="read-only"):
        scores *= 2
    with pytest.raises(ValueError, match="read-only"):
        rows[0] = 0
