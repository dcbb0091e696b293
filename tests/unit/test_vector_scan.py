"""The vector scan: the two-stage scan of big vaults finds what an exact scan finds."""

from __future__ import annotations

import numpy as np
import pytest

from vivim.search import vectors
from vivim.search.vectors import UnitIndex, add_projection, scan, top_k


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
        _row_by_rowid={},
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
    add_projection(ix)
    assert ix.reduced is not None and ix.reduced.shape == (20_000, vectors.REDUCED_DIM)
    keep = np.ones(len(matrix), dtype=bool)
    overlaps = []
    noise = 0.05 * rng.standard_normal((30, 384)).astype(np.float32)
    for q in matrix[rng.choice(len(matrix), 30, replace=False)] + noise:
        q = q / np.linalg.norm(q)
        exact = set(top_k(matrix @ q, 200).tolist())
        found = [row for row, _ in scan(ix, q, keep, 200)]
        assert len(found) == 200
        overlaps.append(len(exact & set(found)) / 200)
    assert np.mean(overlaps) >= 0.97
    hits = scan(ix, matrix[7], keep, 5)  # scores are exact cosines, best first
    assert hits[0][0] == 7 and abs(hits[0][1] - 1.0) < 1e-5
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_small_vaults_are_scanned_exactly() -> None:
    ix = _index(_embedding_like(2_000, 64, np.random.default_rng(2)))
    add_projection(ix)
    assert ix.reduced is None


@pytest.mark.parametrize("two_stage", [False, True])
def test_the_scan_respects_the_mask(monkeypatch: pytest.MonkeyPatch, two_stage: bool) -> None:
    monkeypatch.setattr(vectors, "TWO_STAGE_MIN_UNITS", 100 if two_stage else 10**9)
    ix = _index(_embedding_like(5_000, 32, np.random.default_rng(1)))
    monkeypatch.setattr(vectors, "REDUCED_DIM", 16)
    add_projection(ix)
    assert (ix.reduced is not None) == two_stage
    keep = np.zeros(5_000, dtype=bool)
    keep[::7] = True
    hits = scan(ix, ix.matrix[3], keep, 20)
    assert len(hits) == 20 and all(row % 7 == 0 for row, _ in hits)


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


def test_concurrent_first_stage_passes_give_each_query_its_own_scores() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(6)
    reduced = rng.standard_normal((30_000, 24)).astype(np.float32)
    stage = vectors.FirstStage(reduced)
    queries = rng.standard_normal((64, 24)).astype(np.float32)
    passes = []
    real_run = stage._run

    def counting_run(batch: list) -> None:
        passes.append(len(batch))
        real_run(batch)

    stage._run = counting_run  # type: ignore[method-assign]
    start = threading.Barrier(8)

    def one(i: int) -> np.ndarray:
        if i < 8:
            start.wait()
        return stage.scores(queries[i])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(64)))
    for q, got in zip(queries, results, strict=True):
        assert got.shape == (30_000,) and got.flags.c_contiguous
        np.testing.assert_allclose(got, reduced @ q, rtol=1e-4, atol=1e-4)
    assert sum(passes) == 64 and len(passes) <= 64
    # A pass that fails raises in its callers, and the stage keeps working.
    with pytest.raises(ValueError):
        stage.scores(np.zeros(7, dtype=np.float32))
    np.testing.assert_allclose(stage.scores(queries[0]), reduced @ queries[0], rtol=1e-4, atol=1e-4)
