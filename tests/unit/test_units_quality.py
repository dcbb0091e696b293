"""Quality scores and near-duplicate detection of units."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from vivim.units.extract import UnitDraft, extract_conversation
from vivim.units.neardup import NearDuplicateIndex, jaccard
from vivim.units.quality import (
    content_richness,
    information,
    quality_overall,
    rediscovery_score,
    score_units,
    structural_integrity,
)

RICH = (
    "SQLite's WAL mode (PRAGMA journal_mode=WAL) lets 1 writer and many readers work concurrently: "
    "readers see the last committed snapshot, checkpoints copy pages back every 1000 frames, and the "
    "app.db-wal file disappears when the last connection closes."
)
NOW = datetime(2025, 4, 1, tzinfo=UTC)


def _unit(uid: str, content: str, unit_type: str = "statement", **meta: object) -> UnitDraft:
    return UnitDraft(
        id=uid,
        content=content,
        content_hash=uid,
        type=unit_type,
        category="factual",
        language="en",
        conversation_id="c",
        message_id="m",
        message_index=0,
        parent_id=None,
        provider="chatgpt",
        model=None,
        source_timestamp="2025-01-01T00:00:00.000000Z",
        extractor_version="x",
        parser_version=None,
        role="assistant",
        position=0,
        metadata=dict(meta),
    )


# --- richness ------------------------------------------------------------------------------
def test_a_rich_technical_paragraph_is_richer_than_ok_thanks() -> None:
    assert information("ok thanks", "statement") == 0.0
    assert content_richness("ok thanks", "statement") == pytest.approx(
        0.15 * (1 - math.exp(-9 / 800)), abs=1e-4
    )
    rich = content_richness(RICH, "statement")
    assert rich > 0.5
    assert rich > 100 * content_richness("ok thanks", "statement")


def test_richness_grows_with_diminishing_returns() -> None:
    words = [f"term{i}" for i in range(400)]
    scores = [content_richness(" ".join(words[:n]), "statement") for n in (10, 40, 160, 400)]
    assert scores == sorted(scores)
    gains = [b - a for a, b in zip(scores, scores[1:], strict=False)]
    assert gains[0] > gains[1] > gains[2]
    assert scores[-1] < 1.0


def test_repetition_adds_no_information() -> None:
    once = information("The checkpoint copies pages back.", "statement")
    assert information("The checkpoint copies pages back. " * 5, "statement") == once
    # distinct content words: checkpoint, copies, pages, back
    assert once == 4.0


def test_code_and_table_structure_count() -> None:
    code = "```python\nimport sqlite3\nconn = sqlite3.connect('a.db')\nconn.close()\n```"
    # words: python, import, sqlite3, conn, connect, db, close (7, "a" is a stopword)
    # named: none; 3 code lines -> 1.5
    assert information(code, "code_snippet") == pytest.approx(7 + 1.5)
    table = "| mode | blocks |\n|---|---|\n| WAL | no |\n| DELETE | yes |"
    # words: mode, blocks, wal, delete (yes/no are phatic); named: WAL, DELETE; 3 rows x 2 cells -> 3
    assert information(table, "table") == pytest.approx(4 + 2 + 3)


# --- structural integrity ------------------------------------------------------------------
def test_a_fragment_that_leans_on_what_came_before_scores_lower() -> None:
    whole = structural_integrity("The checkpointer copies the pages back when the log grows.", "statement")
    dangling = structural_integrity("It also copies the pages back when the log grows.", "statement")
    connective = structural_integrity("Also copies the pages back when the log grows.", "statement")
    assert whole == 1.0
    assert dangling == pytest.approx(0.6 * 0.7)
    assert connective == pytest.approx(0.7)


def test_an_unfinished_sentence_and_a_continuation_chunk_score_lower() -> None:
    cut = "The checkpointer copies the pages back into the database file when"
    assert structural_integrity(cut, "statement") == pytest.approx(0.85)
    assert structural_integrity("hi there", "statement") == 1.0  # short turns are whole
    assert structural_integrity("- one\n- two\n- three items in a list", "statement") == 1.0
    assert structural_integrity(cut + ".", "statement", {"chunk": [1, 3]}) == pytest.approx(0.85)


def test_code_integrity_checks_brackets_fences_and_explanation() -> None:
    balanced = "Connect like this:\n\n```python\nconn = connect('a.db')\n```"
    assert structural_integrity(balanced, "code_snippet", {"lead_chars": 18}) == 1.0
    assert structural_integrity("```python\nconn = connect('a.db')\n```", "code_snippet") == pytest.approx(
        0.9
    )
    broken = "```python\ndef f(:\n    return [1, 2\n```"
    assert structural_integrity(broken, "code_snippet", {"lead_chars": 1}) == pytest.approx(0.9**2)
    assert structural_integrity("```python\nx = 1\n", "code_snippet", {"lead_chars": 1}) == pytest.approx(0.6)


def test_tables_with_ragged_rows_and_bare_references() -> None:
    assert structural_integrity("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |", "table") == 1.0
    # 1 of 3 rows after the header has another width: 1 - 0.5 / 3
    assert structural_integrity("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |", "table") == pytest.approx(0.8333)
    assert structural_integrity("input.txt", "attachment", {"label_only": True}) == 0.5


# --- overall, rediscovery ------------------------------------------------------------------
def test_quality_overall_is_richness_weighted_by_integrity_and_uniqueness() -> None:
    assert quality_overall(0.6, 1.0, 1.0) == pytest.approx(0.6)
    assert quality_overall(0.6, 1.0, 0.0) == pytest.approx(0.42)
    assert quality_overall(0.6, 0.0, 0.0) == pytest.approx(0.24)
    assert quality_overall(0.0, 1.0, 1.0) == 0.0


def test_rediscovery_score_follows_its_formula() -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    # 90 days old, never viewed: 0.8 * (1 - e^-1) * (1 - e^-3)
    expected = 0.8 * (1 - math.exp(-1)) * (1 - math.exp(-3))
    assert rediscovery_score(0.8, created, created + timedelta(days=90)) == pytest.approx(expected, abs=1e-4)
    # ISO strings work the same
    assert rediscovery_score(0.8, "2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z") == pytest.approx(
        expected, abs=1e-4
    )
    assert rediscovery_score(0.8, created, created) == 0.0  # brand new
    # Viewed 3 times, the last time yesterday: barely forgotten.
    viewed = rediscovery_score(0.8, created, created + timedelta(days=90), 3, created + timedelta(days=89))
    assert viewed == pytest.approx(
        0.8 * (1 - math.exp(-3 * 30 / 90)) * (1 - math.exp(-1 / 30)) / (1 + math.log(4)), abs=1e-4
    )
    # More views lower it, less each time.
    s = [rediscovery_score(0.8, created, NOW, v, created) for v in (0, 1, 2, 3)]
    assert s[0] > s[1] > s[2] > s[3]
    assert s[0] - s[1] > s[1] - s[2] > s[2] - s[3]
    # An unknown creation time counts as half-aged.
    assert rediscovery_score(1.0, None, NOW) == pytest.approx(0.25)


# --- near-duplicates and uniqueness ----------------------------------------------------------
def test_an_exact_duplicate_scores_zero_uniqueness() -> None:
    units = [_unit("a", RICH), _unit("b", RICH), _unit("c", "Canberra is the capital of Australia.")]
    score_units(units, now=NOW)
    assert units[0].uniqueness == units[1].uniqueness == 0.0
    assert units[0].metadata["near_duplicate_of"] == "b" and units[1].metadata["near_duplicate_of"] == "a"
    assert units[2].uniqueness == 1.0 and "near_duplicate_of" not in units[2].metadata
    for u in units:
        assert u.quality_overall == quality_overall(
            u.content_richness or 0, u.structural_integrity or 0, u.uniqueness
        )
        assert u.rediscovery_score == rediscovery_score(u.quality_overall, u.source_timestamp, NOW)
    assert units[0].quality_overall < units[2].quality_overall * 10  # still scored, not dropped
    assert units[0].quality_overall == pytest.approx(
        units[0].content_richness * (0.4 + 0.3 * units[0].structural_integrity),  # type: ignore[operator]
        abs=1e-4,
    )


def test_uniqueness_is_measured_against_the_users_other_units() -> None:
    index = NearDuplicateIndex()
    index.add_many([("old-1", RICH), ("old-2", "Puttanesca is a pasta sauce with anchovies and capers.")])
    near = RICH.replace("every 1000 frames", "every 2000 frames")
    units = [
        _unit("new-1", near),
        _unit("new-2", "The Goldwater Rule forbids diagnosing public figures remotely."),
    ]
    score_units(units, index, now=NOW)
    similarity = 1 - units[0].uniqueness  # type: ignore[operator]
    assert units[0].metadata["near_duplicate_of"] == "old-1"
    assert similarity == pytest.approx(jaccard(near, RICH), abs=0.15)
    assert units[1].uniqueness == 1.0
    assert len(index) == 4


def test_short_turns_repeat_and_are_not_unique() -> None:
    conversation = {"id": "c", "provider": "chatgpt", "model": None, "created_at": None}
    messages = [
        {"id": f"m{i}", "role": "user", "parts": [{"type": "text", "text": "ok thanks"}], "message_index": i}
        for i in range(3)
    ]
    units = extract_conversation(conversation, messages, parser_version=None)
    score_units(units, now=NOW)
    assert [u.uniqueness for u in units] == [0.0, 0.0, 0.0]
    assert all(u.quality_overall is not None and u.quality_overall < 0.01 for u in units)


def test_the_index_excludes_the_asked_unit_and_forgets_removed_ones() -> None:
    index = NearDuplicateIndex()
    index.add("a", RICH)
    assert index.max_similarity(RICH) == (1.0, "a")
    assert index.max_similarity(RICH, exclude_id="a") == (0.0, None)
    index.add("b", RICH.upper())  # case does not matter
    assert index.max_similarity(RICH, exclude_id="a") == (1.0, "b")
    assert index.remove("b") and not index.remove("b")
    assert index.max_similarity(RICH, exclude_id="a") == (0.0, None)
    assert "a" in index and "b" not in index and len(index) == 1


def test_adding_an_id_again_replaces_its_text() -> None:
    index = NearDuplicateIndex()
    index.add("a", RICH)
    index.add("a", RICH)  # unchanged: a no-op
    assert len(index) == 1
    index.add("a", "Something else entirely, about pasta sauces and anchovies.")
    assert index.max_similarity(RICH) == (0.0, None)
    assert index.max_similarity("Something else entirely, about pasta sauces and anchovies.")[1] == "a"


def test_signatures_are_deterministic_and_estimate_jaccard() -> None:
    a, b = NearDuplicateIndex(), NearDuplicateIndex()
    assert (a.signature(RICH) == b.signature(RICH)).all()
    rng = random.Random(3)
    vocabulary = [f"w{i}" for i in range(3000)]
    errors = []
    for _ in range(40):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(60, 150))]
        changed = list(words)
        for _ in range(rng.randint(1, 12)):
            changed[rng.randrange(len(changed))] = rng.choice(vocabulary)
        x, y = " ".join(words), " ".join(changed)
        estimate = float((a.signature(x) == a.signature(y)).mean())
        errors.append(abs(estimate - jaccard(x, y)))
    assert sum(errors) / len(errors) < 0.07  # the standard error of 64 slots is at most 0.0625
    assert max(errors) < 0.25


def test_near_duplicates_are_found_among_many_units() -> None:
    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(20000)]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(20, 80))) for _ in range(20000)]
    index = NearDuplicateIndex()
    index.add_many((f"u{i}", t) for i, t in enumerate(texts))  # big batches: the sorted arrays
    for i in range(200):  # single adds: the recent-additions dict
        index.add(f"extra{i}", texts[i] + " appended words here")
    assert len(index) == 20200
    found = 0
    for i in range(300, 400):
        words = texts[i].split()
        words[len(words) // 2] = "changed"
        similarity, other = index.max_similarity(" ".join(words))
        found += other == f"u{i}"
    assert found >= 95
    assert index.max_similarity(texts[7], exclude_id="u7")[1] == "extra7"
    # 128 bytes of signature (in an array that grows by doubling) + 16 bucket entries of 8 bytes
    assert index.memory_bytes() < 20200 * (2 * 128 + 16 * 8 + 8)


@pytest.mark.parametrize("size", [40, 600])  # compared pairwise, and through a batch index
def test_copies_inside_one_batch_find_each_other(size: int) -> None:
    rng = random.Random(size)
    vocabulary = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(30)) for _ in range(size)]
    texts[-1] = texts[0]  # an exact copy
    texts[-2] = texts[1].replace(texts[1].split()[15], "changed", 1)  # a near copy
    units = [_unit(f"u{i}", t) for i, t in enumerate(texts)]
    score_units(units, now=NOW)
    assert units[0].uniqueness == units[-1].uniqueness == 0.0
    assert units[0].metadata["near_duplicate_of"] == f"u{size - 1}"
    assert units[-1].metadata["near_duplicate_of"] == "u0"
    assert units[-2].metadata["near_duplicate_of"] == "u1"
    assert 0.05 < units[-2].uniqueness < 0.35  # type: ignore[operator]
    assert sum(1 for u in units if u.uniqueness == 1.0) == size - 4
