"""The in-memory side of a user's search index: units in reading order, with their
vectors and the fields that filters, neighbours and speaker boosts need.

Brute force on a float32 matrix is exact and, with BLAS, takes a few milliseconds per
100,000 vectors: simpler and faster here than an approximate index, and nothing to keep
consistent on disk. The index is loaded from the user DB on first use and reloaded when
the vault's search generation changes (the indexer and deletions bump it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from vivim.store.user.db import UserStore
from vivim.store.user.units import search_generation


@dataclass
class UnitIndex:
    """Row i is the i-th unit in reading order (conversation, message, position)."""

    model: str | None
    ids: list[str]
    fts_rowid: np.ndarray  # int64, the unit's full-text rowid
    matrix: np.ndarray  # (n, dim) float32 unit rows; zeros where not embedded yet
    has_vector: np.ndarray  # bool
    conversation: np.ndarray  # int32 codes
    author: np.ndarray
    provider: np.ndarray
    type: np.ndarray
    role: np.ndarray
    timestamp: np.ndarray  # float64 seconds since epoch; NaN when unknown
    vocab: dict[str, dict[str | None, int]]
    _row_by_rowid: dict[int, int]
    _row_by_id: dict[str, int] | None = None
    projection: np.ndarray | None = None  # (dim, REDUCED_DIM): first stage of big scans
    reduced: np.ndarray | None = None  # (n, REDUCED_DIM) float32: matrix @ projection

    def code(self, field: str, value: str | None) -> int:
        return self.vocab[field].get(value, -1)

    def row_of_id(self, unit_id: str) -> int | None:
        if self._row_by_id is None:
            self._row_by_id = {uid: i for i, uid in enumerate(self.ids)}
        return self._row_by_id.get(unit_id)

    def row_of_rowid(self, fts_rowid: int) -> int | None:
        return self._row_by_rowid.get(fts_rowid)

    def neighbour(self, row: int, offset: int) -> int | None:
        """The unit ``offset`` places away in the same conversation, if any."""
        j = row + offset
        if 0 <= j < len(self.ids) and self.conversation[j] == self.conversation[row]:
            return j
        return None

    @property
    def participants(self) -> list[str]:
        """Who speaks in this vault (message authors), for names in questions."""
        return [a for a in self.vocab["author"] if a]


def _codes(values: list[str | None]) -> tuple[np.ndarray, dict[str | None, int]]:
    vocab: dict[str | None, int] = {}
    out = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int32, count=len(values))
    return out, vocab


def load_index(conn: sqlite3.Connection) -> UnitIndex:
    row = conn.execute(
        "SELECT embedding_model, embedding_dim FROM atomic_chat_units WHERE embedding IS NOT NULL"
        " GROUP BY embedding_model ORDER BY COUNT(*) DESC LIMIT 1"
    ).fetchone()
    model, dim = (row[0], row[1]) if row else (None, 0)
    rows = conn.execute(
        "SELECT r.rowid, u.id, u.conversation_id, COALESCE(u.author, u.role), u.provider, u.type, u.role,"
        " CAST(strftime('%s', substr(u.source_timestamp, 1, 19)) AS REAL),"
        " CASE WHEN u.embedding_model IS ? THEN u.embedding END"
        " FROM atomic_chat_units u JOIN unit_search_rows r ON r.unit_id = u.id"
        " ORDER BY u.conversation_id, u.message_index, u.position, u.id",
        (model,),
    ).fetchall()
    n = len(rows)
    matrix = np.zeros((n, dim), dtype=np.float32)
    has_vector = np.zeros(n, dtype=bool)
    for i, r in enumerate(rows):
        if r[8] is not None:
            matrix[i] = np.frombuffer(r[8], dtype="<f4")
            has_vector[i] = True
    conv, cv = _codes([r[2] for r in rows])
    author, av = _codes([r[3] for r in rows])
    provider, pv = _codes([r[4] for r in rows])
    typ, tv = _codes([r[5] for r in rows])
    role, rv = _codes([r[6] for r in rows])
    rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    return UnitIndex(
        model=model,
        ids=[r[1] for r in rows],
        fts_rowid=rowids,
        matrix=matrix,
        has_vector=has_vector,
        conversation=conv,
        author=author,
        provider=provider,
        type=typ,
        role=role,
        timestamp=np.array([r[7] if r[7] is not None else np.nan for r in rows], dtype=np.float64),
        vocab={"conversation": cv, "author": av, "provider": pv, "type": tv, "role": rv},
        _row_by_rowid={int(x): i for i, x in enumerate(rowids)},
    )


# From this many vectors on, scans run in two stages: a first pass over the vectors
# projected onto their REDUCED_DIM principal directions (a third of the memory to read),
# then an exact re-score of the best FIRST_STAGE rows. Sentence embeddings concentrate their
# energy in few directions, so the exact top candidates are almost always among those.
TWO_STAGE_MIN_UNITS = 50_000
REDUCED_DIM = 128
FIRST_STAGE = 2_000
_PROJECTION_SAMPLE = 20_000


def add_projection(index: UnitIndex, seed: int = 0) -> None:
    rows = np.flatnonzero(index.has_vector)
    if len(rows) < TWO_STAGE_MIN_UNITS or index.matrix.shape[1] <= REDUCED_DIM:
        return
    sample = np.random.default_rng(seed).choice(rows, size=min(_PROJECTION_SAMPLE, len(rows)), replace=False)
    _, _, vt = np.linalg.svd(index.matrix[np.sort(sample)], full_matrices=False)
    index.projection = np.ascontiguousarray(vt[:REDUCED_DIM].T, dtype=np.float32)
    index.reduced = np.ascontiguousarray(index.matrix @ index.projection, dtype=np.float32)


def scan(index: UnitIndex, query_vector: np.ndarray, keep: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows most similar to ``query_vector`` among ``keep``: (row, exact cosine), best first."""
    if index.reduced is not None and index.projection is not None:
        approx = np.where(keep, index.reduced @ (query_vector @ index.projection), -np.inf)
        candidates = top_k(approx, FIRST_STAGE)
        candidates = candidates[np.isfinite(approx[candidates])]
        exact = index.matrix[candidates] @ query_vector
        return [(int(candidates[i]), float(exact[i])) for i in top_k(exact, k)]
    scores = np.where(keep, index.matrix @ query_vector, -np.inf)
    return [(int(i), float(scores[i])) for i in top_k(scores, k) if np.isfinite(scores[i])]


def index_for(store: UserStore) -> UnitIndex:
    """The store's in-memory index, loaded once and reloaded when its generation changes."""
    with store.read() as conn:
        generation = search_generation(conn)
        cached = store.memo.get("unit_index")
        if cached is not None and cached[0] == generation:
            return cached[1]
        index = load_index(conn)
        add_projection(index)
        store.memo["unit_index"] = (generation, index)
        return index


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first."""
    if scores.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    k = min(k, scores.size)
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]
