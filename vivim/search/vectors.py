"""An in-memory matrix of a user's unit vectors, for exact cosine search.

Brute force on a float32 matrix is exact and, with BLAS, takes a few milliseconds per
100,000 vectors: simpler and faster here than an approximate index, and nothing to keep
consistent on disk. The matrix is loaded from the user DB on first use and reloaded when
the vault's search generation changes (the indexer and deletions bump it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from vivim.store.user.db import UserStore


def search_generation(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM vault_meta WHERE key = 'search_generation'").fetchone()
    return row[0] if row else "0"


def bump_search_generation(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO vault_meta (key, value) VALUES ('search_generation', '1')"
        " ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


@dataclass
class VectorMatrix:
    model: str | None
    ids: list[str]
    matrix: np.ndarray  # (n, dim) float32, unit rows
    provider: np.ndarray  # int codes, see vocab
    type: np.ndarray
    role: np.ndarray
    conversation: np.ndarray
    timestamp: np.ndarray  # seconds since epoch, NaN when unknown
    vocab: dict[str, dict[str | None, int]]
    row_of: dict[str, int]

    def code(self, field: str, value: str) -> int:
        return self.vocab[field].get(value, -1)


def _codes(values: list[str | None]) -> tuple[np.ndarray, dict[str | None, int]]:
    vocab: dict[str | None, int] = {}
    out = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int32, count=len(values))
    return out, vocab


def load_matrix(conn: sqlite3.Connection, model: str | None = None) -> VectorMatrix:
    """Every embedded unit (of ``model``, or of the most common model) and its filter fields."""
    if model is None:
        row = conn.execute(
            "SELECT embedding_model FROM atomic_chat_units WHERE embedding IS NOT NULL"
            " GROUP BY embedding_model ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()
        model = row[0] if row else None
    rows = conn.execute(
        "SELECT id, embedding, embedding_dim, provider, type, role, conversation_id,"
        " CAST(strftime('%s', substr(source_timestamp, 1, 19)) AS REAL)"
        " FROM atomic_chat_units WHERE embedding IS NOT NULL AND embedding_model IS ?",
        (model,),
    ).fetchall()
    dim = rows[0][2] if rows else 0
    matrix = (
        np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
        if rows
        else (np.zeros((0, 0), dtype=np.float32))
    )
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    provider, pv = _codes([r[3] for r in rows])
    typ, tv = _codes([r[4] for r in rows])
    role, rv = _codes([r[5] for r in rows])
    conv, cv = _codes([r[6] for r in rows])
    ts = np.array([r[7] if r[7] is not None else np.nan for r in rows], dtype=np.float64)
    ids = [r[0] for r in rows]
    return VectorMatrix(
        model=model,
        ids=ids,
        matrix=matrix,
        provider=provider,
        type=typ,
        role=role,
        conversation=conv,
        timestamp=ts,
        vocab={"provider": pv, "type": tv, "role": rv, "conversation": cv},
        row_of={uid: i for i, uid in enumerate(ids)},
    )


def vectors_for(store: UserStore) -> VectorMatrix:
    """The store's vector matrix, loaded once and reloaded when its generation changes."""
    with store.read() as conn:
        generation = search_generation(conn)
        cached = store.memo.get("vectors")
        if cached is not None and cached[0] == generation:
            return cached[1]
        matrix = load_matrix(conn)
        store.memo["vectors"] = (generation, matrix)
        return matrix


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first."""
    if scores.size == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(k, scores.size)
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]
