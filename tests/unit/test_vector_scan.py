"""The vector scan: the two-stage scan of big vaults finds what an exact scan finds."""

from __future__ import annotations

import numpy as np
import pytest

from vivim.search import vectors
from vivim.search.quantized_scan import QuantizedScan
from vivim.search.vectors import UnitIndex, add_first_stage, scan, top_k


def _index(matrix: np.ndarray) -> UnitIndex:
    n = len(matrix)
    zeros = np.zeros(n, dtype=np.int32)
    return UnitIndex(
        model="m",
        ids=[str(i) for i in range(n)],
        fts_rowid=np.arange(n),
        matrix=matrix,
        has_vector=np.ones(n, dtype=bool),
        conversation=zeros,
        author=zeros,
        provider=zeros,
        type=zeros,
        role=zeros,
        timestamp=np.zeros(n),
        vocab={},
    )


def _embedding_like(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors whose energy decays over directions, as sentence embeddings' does."""
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    x = (rng.standard_normal((n, dim)) / np.arange(1, dim + 1) ** 0.8) @ basis.T
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_the_two_stage_scan_finds_what_the_exact_scan_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "TWO_STAGE_MIN_UNITS", 1_000)
    rng = np.random.default_rng(3)
    matrix = _embedding_like(20_000, 384, rng)
    ix = _index(matrix)
    add_first_stage(ix)
    assert ix.first_stage is not None
    keep = np.ones(len(matrix), dtype=bool)
    overlaps = []
    noise = 0.05 * rng.standard_normal((30, 384)).astype(np.float32)
    for q in matrix[rng.choice(len(matrix), 30, replace=False)] + noise:
        q = q / np.linalg.norm(q)
        exact = set(top_k(matrix @ q, 200).tolist())
        found = scan(ix, q, keep, 200)[0].tolist()
        assert len(found) == 200
        overlaps.append(len(exact & set(found)) / 200)
    assert min(overlaps) >= 0.99
    rows, cosines = scan(ix, matrix[7], keep, 5)  # scores are exact cosines, best first
    assert rows[0] == 7 and abs(cosines[0] - 1.0) < 1e-5
    assert cosines.tolist() == sorted(cosines.tolist(), reverse=True)


def test_small_vaults_are_scanned_exactly() -> None:
    ix = _index(_embedding_like(2_000, 64, np.random.default_rng(2)))
    add_first_stage(ix)
    assert ix.first_stage is None


@pytest.mark.parametrize("two_stage", [False, True])
def test_the_scan_respects_the_mask(monkeypatch: pytest.MonkeyPatch, two_stage: bool) -> None:
    monkeypatch.setattr(vectors, "TWO_STAGE_MIN_UNITS", 100 if two_stage else 10**9)
    ix = _index(_embedding_like(5_000, 32, np.random.default_rng(1)))
    add_first_stage(ix)
    assert (ix.first_stage is not None) == two_stage
    keep = np.zeros(5_000, dtype=bool)
    keep[::7] = True
    rows, _ = scan(ix, ix.matrix[3], keep, 20)
    assert len(rows) == 20 and all(row % 7 == 0 for row in rows.tolist())


def test_best_rows_finds_exactly_the_k_largest() -> None:
    rng = np.random.default_rng(4)
    scores = rng.standard_normal(100_000).astype(np.float32)
    got = vectors.best_rows(scores, 2_000)
    assert len(got) == 2_000 and len(set(got.tolist())) == 2_000
    assert set(got.tolist()) == set(np.argsort(-scores)[:2_000].tolist())


def test_best_rows_with_most_rows_filtered_out_or_tied() -> None:
    rng = np.random.default_rng(5)
    scores = rng.standard_normal(50_000)
    scores[rng.random(50_000) < 0.99] = -np.inf  # a filter that keeps about 500 rows
    kept = np.flatnonzero(np.isfinite(scores))
    got = vectors.best_rows(scores, 2_000)
    assert len(got) == 2_000 and set(kept.tolist()) <= set(got.tolist())
    # Integer scores: many ties at the cut-off; any choice among the tied rows is right.
    tied = rng.integers(0, 50, 30_000).astype(np.float32)
    got = vectors.best_rows(tied, 1_000)
    cutoff = np.sort(tied)[::-1][999]
    assert len(got) == 1_000 and (tied[got] >= cutoff).all()
    assert (tied > cutoff).sum() <= (tied[got] > cutoff).sum()
    assert vectors.best_rows(tied[:10], 20).tolist() == list(range(10))
    assert vectors.best_rows(tied, 0).size == 0


def test_the_4_bit_pass_is_within_a_few_thousandths_of_the_exact_cosines() -> None:
    # What the exact re-scoring of its best rows relies on (FIRST_STAGE); the two-stage
    # scan's recall is tested below.
    rng = np.random.default_rng(8)
    matrix = _embedding_like(5_000, 384, rng)
    stage = QuantizedScan(matrix)
    errors = []
    for q in matrix[:20]:
        approx = stage.scores(q)
        assert approx.dtype == np.float32 and approx.shape == (5_000,)
        errors.append(np.abs(approx - matrix @ q))
    error = np.concatenate(errors)
    assert error.mean() < 0.006 and np.percentile(error, 99) < 0.02 and error.max() < 0.04
    assert np.all(stage.scores(np.zeros(384, dtype=np.float32)) == 0)


def test_concurrent_first_stage_passes_give_each_query_exactly_its_own_scores() -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(6)
    matrix = rng.standard_normal((30_000, 24)).astype(np.float32)
    stage = QuantizedScan(matrix)
    queries = rng.standard_normal((64, 24)).astype(np.float32)
    alone = [stage.scores(q) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(stage.scores, queries))
    for expected, got in zip(alone, together, strict=True):
        np.testing.assert_array_equal(got, expected)  # a search's candidates never depend on its company
    with pytest.raises(ValueError, match="vectors of 24 dimensions"):
        stage.scores(np.zeros(7, dtype=np.float32))
    np.testing.assert_array_equal(stage.scores(queries[0]), alone[0])


def test_rows_are_found_by_full_text_rowid_and_unknown_rowids_are_flagged() -> None:
    ix = _index(np.zeros((3, 4), dtype=np.float32))
    ix.fts_rowid = np.array([10, 5, 7])
    rows, known = ix.rows_of_rowids(np.array([7, 99, 10, 1]))
    assert rows.tolist() == [2, 0] and known.tolist() == [True, False, True, False]
    empty = _index(np.zeros((0, 4), dtype=np.float32))
    rows, known = empty.rows_of_rowids(np.array([3]))
    assert rows.size == 0 and known.tolist() == [False]
