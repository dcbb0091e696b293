"""The in-memory side of a user's search index: units in reading order, with their
vectors and the fields that filters, neighbours and speaker boosts need.

Brute force on a float32 matrix is exact and, with BLAS, takes a few milliseconds per
100,000 vectors: simpler and faster here than an approximate index, and nothing to keep
consistent on disk. The index is loaded from the user DB on first use and reloaded when
the vault's search generation changes (the indexer and deletions bump it).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
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
    first_stage: FirstStage | None = None  # set with ``reduced``

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
# projected onto their REDUCED_DIM principal directions (a quarter of the memory to read),
# then an exact re-score of the best FIRST_STAGE rows. Sentence embeddings concentrate their
# energy in few directions, so the exact top candidates are almost always among those: on
# real MiniLM vectors (LoCoMo), 96 directions keep 99.5% of the exact top 0.2% within the
# first stage's top 2% (128 directions: 99.96%, 64: 97%; docs/SEARCH.md).
TWO_STAGE_MIN_UNITS = 50_000
REDUCED_DIM = 96
FIRST_STAGE = 2_000
_PROJECTION_SAMPLE = 20_000
# The first stage's top rows are found from a strided sample of the scores: a threshold
# that lets about SELECT_SLACK times the wanted number through, then a partition of just
# those (np.argpartition over every row costs more than the reduced scan itself).
_SELECT_STRIDE = 16
_SELECT_SLACK = 1.5


def add_projection(index: UnitIndex, seed: int = 0) -> None:
    rows = np.flatnonzero(index.has_vector)
    if len(rows) < TWO_STAGE_MIN_UNITS or index.matrix.shape[1] <= REDUCED_DIM:
        return
    sample = np.random.default_rng(seed).choice(rows, size=min(_PROJECTION_SAMPLE, len(rows)), replace=False)
    _, _, vt = np.linalg.svd(index.matrix[np.sort(sample)], full_matrices=False)
    index.projection = np.ascontiguousarray(vt[:REDUCED_DIM].T, dtype=np.float32)
    index.reduced = np.ascontiguousarray(index.matrix @ index.projection, dtype=np.float32)
    index.first_stage = FirstStage(index.reduced)


class FirstStage:
    """The first-stage scan, shared by queries that arrive together.

    Reading the reduced matrix is what a scan costs (it is far bigger than the caches), and
    one pass can score several queries (a matrix product instead of a matrix-vector one):
    under concurrent searches, a query that arrives while a pass is running waits for it to
    end and is scored with every other query that arrived meanwhile, in the next pass. A
    lone query runs at once.
    """

    def __init__(self, reduced: np.ndarray) -> None:
        self._reduced = reduced
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._running = False

    def scores(self, vector: np.ndarray) -> np.ndarray:
        job = _Job(vector)
        with self._cond:
            self._pending.append(job)
            while not job.done:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                batch, self._pending = self._pending, []
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _run(self, batch: list[_Job]) -> None:
        try:
            out = self._reduced @ np.stack([job.vector for job in batch], axis=1)
            for i, job in enumerate(batch):
                job.result = np.ascontiguousarray(out[:, i])
        except BaseException as exc:  # every waiter gets the error, not just this thread
            for job in batch:
                job.error = exc
        finally:
            for job in batch:
                job.done = True


@dataclass
class _Job:
    vector: np.ndarray
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


def scan(index: UnitIndex, query_vector: np.ndarray, keep: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows most similar to ``query_vector`` among ``keep``: (row, exact cosine), best first."""
    if index.first_stage is not None and index.projection is not None:
        approx = index.first_stage.scores(query_vector @ index.projection)
        if not keep.all():
            approx[~keep] = -np.inf
        candidates = best_rows(approx, FIRST_STAGE)
        candidates = candidates[np.isfinite(approx[candidates])]
        exact = index.matrix[candidates] @ query_vector
        return [(int(candidates[i]), float(exact[i])) for i in top_k(exact, k)]
    scores = np.where(keep, index.matrix @ query_vector, -np.inf)
    return [(int(i), float(scores[i])) for i in top_k(scores, k) if np.isfinite(scores[i])]


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
        add_projection(index)
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
