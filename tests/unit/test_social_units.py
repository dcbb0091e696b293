"""Pure parts of sharing: the shared BM25/vector index, expiry parsing, grants, copy verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.fakes import HashingEmbedder
from vivim.domain.errors import InvalidInput
from vivim.identity.keys import generate_keypair
from vivim.identity.signing import sign_unit
from vivim.search.engine import fuse
from vivim.social.common import parse_expiry
from vivim.social.remix import verify_copy
from vivim.social.shared_search import _tokens, bm25, build_index, dense
from vivim.social.sharing import Grant

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
E = HashingEmbedder()
DOCS = [
    "the borrow checker rejects two mutable borrows",
    "sourdough starter needs feeding twice a day",
    "borrow checker borrow checker lifetimes explained",
    "tides follow the moon",
]


def rows(expiries: list[datetime | None] | None = None) -> list[tuple[str, str, bytes | None, str | None, object]]:
    expiries = expiries or [None] * len(DOCS)
    return [
        (f"s{i}", text, np.asarray(E.embed([text])[0], dtype="<f4").tobytes(), E.model_id, exp)
        for i, (text, exp) in enumerate(zip(DOCS, expiries, strict=True))
    ]


def test_tokens_drop_stopwords_and_single_letters_but_keep_repeats() -> None:
    assert _tokens("The borrow checker, the BORROW checker: a b 7") == ["borrow", "checker", "borrow", "checker", "7"]


def test_bm25_ranks_the_denser_match_first_and_skips_non_matches() -> None:
    ix = build_index(3, rows())
    assert (len(ix.ids), ix.model, ix.matrix.shape, ix.generation) == (4, E.model_id, (4, 64), 3)
    alive = ix.alive(NOW.timestamp())
    scores = bm25(ix, "borrow checker", alive)
    assert list(scores) == [2, 0]  # doc 2 says it twice; docs 1 and 3 never
    assert scores[2] > scores[0] > 0
    assert bm25(ix, "nothing matches zebra", alive) == {}


def test_expired_rows_are_left_out_of_both_rankings() -> None:
    ix = build_index(1, rows([None, None, NOW - timedelta(seconds=1), NOW + timedelta(days=1)]))
    alive = ix.alive(NOW.timestamp())
    assert alive.tolist() == [True, True, False, True]
    assert list(bm25(ix, "borrow checker", alive)) == [0]
    assert 2 not in dense(ix, E.embed_query("borrow checker lifetimes"), alive)


def test_dense_and_fused_rankings_agree_on_the_obvious_answer() -> None:
    ix = build_index(1, rows())
    alive = ix.alive(NOW.timestamp())
    vec = dense(ix, E.embed_query("moon tides"), alive)
    assert max(vec, key=lambda r: vec[r]) == 3
    fused = fuse(bm25(ix, "moon tides", alive), vec)
    assert max(fused, key=lambda r: fused[r]) == 3


def test_a_big_index_scans_in_two_stages_and_finds_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from vivim.social import shared_search

    exact = build_index(1, rows())
    monkeypatch.setattr(shared_search, "TWO_STAGE_MIN_UNITS", 1)
    two_stage = build_index(1, rows())
    assert exact.first_stage is None and two_stage.first_stage is not None
    alive = exact.alive(NOW.timestamp())
    q = E.embed_query("borrow checker lifetimes")
    fast, slow = dense(two_stage, q, alive), dense(exact, q, alive)
    assert list(fast) == list(slow)  # same rows, best first
    assert all(abs(fast[r] - slow[r]) < 1e-6 for r in slow)  # exact cosines, not the 4-bit ones


def test_an_empty_index_answers_nothing() -> None:
    ix = build_index(0, [])
    alive = ix.alive(NOW.timestamp())
    assert bm25(ix, "anything", alive) == {} and dense(ix, E.embed_query("x"), alive) == {}


@pytest.mark.parametrize(
    ("text", "delta"), [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2))]
)
def test_expiry_durations_count_from_now(text: str, delta: timedelta) -> None:
    assert parse_expiry(text, now=NOW) == NOW + delta


def test_expiry_accepts_iso_and_refuses_the_past_and_nonsense() -> None:
    assert parse_expiry("2026-06-01T00:00:00Z", now=NOW) == datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_expiry(None, now=NOW) is None
    for bad in ("2020-01-01", "soon", "10x", "1700000000"):
        with pytest.raises(InvalidInput):
            parse_expiry(bad, now=NOW)


def test_a_grant_needs_an_audience_and_deduplicates_circles() -> None:
    with pytest.raises(InvalidInput, match="at least one circle"):
        Grant.make()
    g = Grant.make(circles=["c1", " c1", "c2", ""], can_remix=True)
    assert g.circles == ("c1", "c2") and g.can_remix and not g.can_annotate and not g.public
    assert Grant.make(public=True).public is True
    with pytest.raises(InvalidInput):
        Grant.make(circles=[f"c{i}" for i in range(101)])


def test_a_copied_unit_verifies_against_its_authors_did_only_when_unchanged() -> None:
    kp = generate_keypair()
    signed = {"id": "u1", "author_did": kp.did, "content": "hello", "content_hash": "h", "type": "statement",
              "category": "general", "conversation_id": "c1", "message_id": "m1", "created_at": "2026-01-01T00:00:00.000000Z"}
    signature = sign_unit(kp, signed)
    copy = {"author_did": kp.did, "content": "hello", "content_hash": "h", "type": "statement", "category": "general",
            "metadata": {"original": {"id": "u1", "conversation_id": "c1", "message_id": "m1",
                                      "created_at": "2026-01-01T00:00:00.000000Z", "signature": signature.hex()}}}
    assert verify_copy(copy) == (True, "valid")
    assert verify_copy({**copy, "content": "changed"})[0] is False
    assert verify_copy({**copy, "metadata": {}}) == (False, "not a copy of a signed unit")
