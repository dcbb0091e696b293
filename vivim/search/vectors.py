"""The in-memory side of a user's search index: units in reading order, with their
vectors and the fields that filters, neighbours and speaker boosts need.

A scan of every vector (big vaults: a 4-bit pass, then exact cosines for its best rows) is
simpler than an approximate index, finds what an exact scan finds, and leaves nothing to
keep consistent on disk. The index is loaded from the user DB on first use and reloaded when
the vault's search generation changes (the indexer and deletions bump it).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from vivim.search.quantized_scan import QuantizedScan
from vivim.search.word_scores import WordScores
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
    _row_by_id: dict[str, int] | None = None
    _by_rowid: tuple[np.ndarray, np.ndarray] | None = None  # (sorted rowids, their rows)
    first_stage: QuantizedScan | None = None  # big vaults: the 4-bit pass before exact cosines
    word_scores: WordScores = field(default_factory=WordScores)  # full-text parts, per word

    def code(self, field: str, value: str | None) -> int:
        return self.vocab[field].get(value, -1)

    def row_of_id(self, unit_id: str) -> int | None:
        if self._row_by_id is None:
            self._row_by_id = {uid: i for i, uid in enumerate(self.ids)}
        return self._row_by_id.get(unit_id)

    def rows_of_rowids(self, fts_rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, known): the rows of the units with these full-text rowids, and which
        rowids have one (a unit extracted after the index was loaded has none yet)."""
        if self._by_rowid is None:
            order = np.argsort(self.fts_rowid, kind="stable")
            self._by_rowid = (self.fts_rowid[order], order)
        sorted_rowids, rows = self._by_rowid
        if not len(sorted_rowids):
            return rows, np.zeros(len(fts_rowids), dtype=bool)
        at = np.minimum(np.searchsorted(sorted_rowids, fts_rowids), len(sorted_rowids) - 1)
        known = sorted_rowids[at] == fts_rowids
        return rows[at[known]], known

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
    )


# From this many vectors on, scans run in two stages: a 4-bit pass over every vector
# (vivim.search.quantized_scan: a seventh of the memory to read, and integer instructions),
# then exact cosines for its best FIRST_STAGE rows. 4 bits move a cosine by about 0.004, so
# those rows hold the exact best ones: in random unit vectors (the hardest case) the exact
# top 200 of 50 queries among 100,000 were all in the 4-bit top 500 (docs/SEARCH.md).
TWO_STAGE_MIN_UNITS = 20_000
FIRST_STAGE = 500
# The first stage's top rows are found from a strided sample of the scores: a threshold
# that lets about SELECT_SLACK times the wanted number through, then a partition of just
# those (np.argpartition over every row costs more than a pass of the scan itself).
_SELECT_STRIDE = 16
_SELECT_SLACK = 1.5


def add_first_stage(index: UnitIndex) -> None:
    if int(index.has_vector.sum()) >= TWO_STAGE_MIN_UNITS:
        index.first_stage = QuantizedScan(index.matrix)


def scan(index: UnitIndex, query_vector: np.ndarray, keep: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows most similar to ``query_vector`` among ``keep``: (rows, exact cosines),
    best first."""
    return nearest(index.matrix, index.first_stage, query_vector, keep, k)


def nearest(
    matrix: np.ndarray, first_stage: QuantizedScan | None, query_vector: np.ndarray, keep: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``scan`` over any matrix (a vault's, or the shares a reader may see)."""
    if first_stage is not None:
        approx = first_stage.scores(query_vector)
        if not keep.all():
            approx[~keep] = -np.inf
        candidates = best_rows(approx, max(FIRST_STAGE, k))
        # Ascending rows read the matrix front to back, which the memory prefetcher follows.
        candidates = np.sort(candidates[np.isfinite(approx[candidates])])
        exact = matrix[candidates] @ query_vector
        order = top_k(exact, k)
        return candidates[order], exact[order]
    scores = np.where(keep, matrix @ query_vector, -np.inf)
    order = top_k(scores, k)
    order = order[np.isfinite(scores[order])]
    return order, scores[order]


def best_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, in no particular order (ties at the cut-off
    broken arbitrarily)."""
    n = scores.size
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n)
    sample = scores[::_SELECT_STRIDE]
    wanted = int(k / _SELECT_STRIDE * _SELECT_SLACK) + 1
    if wanted < sample.size:
        threshold = np.partition(sample, sample.size - wanted)[sample.size - wanted]
        through = np.flatnonzero(scores >= threshold)
        if through.size >= k:
            return through[np.argpartition(-scores[through], k - 1)[:k]]
    # Unlucky sample (or very uneven scores, e.g. a filter's -inf): rank everything.
    return np.argpartition(-scores, k - 1)[:k]


def index_for(store: UserStore) -> UnitIndex:
    """The store's in-memory index, loaded once and reloaded when its generation changes."""
    with search_reader(store) as conn:
        generation = search_generation(conn)
        cached = store.memo.get("unit_index")
        if cached is not None and cached[0] == generation:
            return cached[1]
    with store.read() as conn:
        generation = search_generation(conn)
        cached = store.memo.get("unit_index")
        if cached is not None and cached[0] == generation:  # another thread just loaded it
            return cached[1]
        index = load_index(conn)
        add_first_stage(index)
        store.memo["unit_index"] = (generation, index)
        return index


class _Readers:
    """Read-only connections to one vault for searches, reused across requests.

    The store's own connection is one, behind a lock: concurrent searches would queue on it
    for their full-text ranking and row reads, which SQLite can run side by side (WAL lets
    readers proceed alongside each other and the writer, and releases the GIL meanwhile).
    """

    MAX_IDLE = 8

    def __init__(self, store: UserStore) -> None:
        self._path = store.path
        # Weak: the store's memo holds this object, and a cycle would keep the idle
        # connections' files open until the cycle collector runs.
        self._store = weakref.ref(store)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = sqlite3.connect(
                f"file:{self._path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout = 5000")
        try:
            yield conn
        finally:
            with self._lock:
                store = self._store()
                if len(self._idle) < self.MAX_IDLE and store is not None and not store.closed:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


@contextmanager
def search_reader(store: UserStore) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the store's file, for queries that need no transaction of
    the store's own (they see what is committed)."""
    if store.closed:
        readers = store.memo.pop("search_readers", None)
        if readers is not None:
            readers.close()
        with store.read() as conn:  # raises the store's own error
            yield conn
        return
    readers = store.memo.get("search_readers")
    if readers is None:
        readers = store.memo.setdefault("search_readers", _Readers(store))
    with readers.read() as conn:
        yield conn


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first."""
    if scores.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    k = min(k, scores.size)
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]
