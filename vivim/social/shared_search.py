"""Search over the units shared with me: the same hybrid recipe as ``vivim.search.engine``
(BM25 and dense cosine, fused), over what the master DB says I may read.

The master DB is SQLite or PostgreSQL, whose full-text engines differ, so the index lives
in memory, per process and per reader: the reader's visible shares with their vectors and
a BM25 posting list. It is rebuilt when the master's sharing generation changes (every
share, revoke, membership change, follow or block bumps it), so a revoke is seen by the
next search; expiry is checked against the clock on every query.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vivim.app import UserRecord, Vivim
from vivim.domain.times import utcnow
from vivim.embed.base import Embedder
from vivim.search.engine import CANDIDATES, fuse
from vivim.search.quantized_scan import QuantizedScan
from vivim.search.query import STOPWORDS, terms
from vivim.search.vectors import TWO_STAGE_MIN_UNITS, nearest, top_k
from vivim.social.common import blocked_ids, generation
from vivim.social.feed import _items
from vivim.social.relations import visible_public_sharers
from vivim.store.master.models import SharedUnit, SharedUnitAccess, SharingPolicy

K1, B = 1.2, 0.75
MAX_CACHED_READERS = 8
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


@dataclass
class SharedIndex:
    generation: int
    ids: list[str]
    expires: np.ndarray  # float64 epoch seconds; inf when the share does not expire
    model: str | None
    matrix: np.ndarray  # (n, dim) float32, zeros where no vector of ``model``
    has_vector: np.ndarray
    vocab: dict[str, int]
    starts: np.ndarray  # CSR over terms: postings of term t are starts[t]:starts[t+1]
    post_doc: np.ndarray
    post_tf: np.ndarray
    doc_len: np.ndarray
    avg_len: float
    first_stage: QuantizedScan | None = None  # big indexes: the 4-bit pass before exact cosines

    def alive(self, now: float) -> np.ndarray:
        return self.expires > now


def _tokens(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.replace("’", "'")
        if w in STOPWORDS or (len(w) == 1 and not w.isdigit()):
            continue
        out.append(w)
    return out


def build_index(gen: int, rows: list[tuple[str, str, bytes | None, str | None, Any]]) -> SharedIndex:
    """rows: (share id, content, embedding, embedding model, expires_at)."""
    n = len(rows)
    models = Counter(r[3] for r in rows if r[2] is not None and r[3])
    model = models.most_common(1)[0][0] if models else None
    dim = next((len(r[2]) // 4 for r in rows if r[2] is not None and r[3] == model), 0)
    matrix = np.zeros((n, dim), dtype=np.float32)
    has_vector = np.zeros(n, dtype=bool)
    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    docs: list[int] = []
    tfs: list[int] = []
    doc_len = np.zeros(n, dtype=np.float32)
    expires = np.full(n, np.inf)
    for i, (_sid, content, blob, emb_model, exp) in enumerate(rows):
        if blob is not None and emb_model == model and len(blob) == dim * 4:
            matrix[i] = np.frombuffer(blob, dtype="<f4")
            has_vector[i] = True
        if exp is not None:
            expires[i] = exp.timestamp()
        counts = Counter(_tokens(content))
        doc_len[i] = sum(counts.values())
        for w, c in counts.items():
            term_ids.append(vocab.setdefault(w, len(vocab)))
            docs.append(i)
            tfs.append(c)
    # The same two-stage scan as a vault's own search (vivim.search.vectors).
    first_stage = QuantizedScan(matrix) if int(has_vector.sum()) >= TWO_STAGE_MIN_UNITS else None
    t = np.asarray(term_ids, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    starts = np.searchsorted(t[order], np.arange(len(vocab) + 1))
    return SharedIndex(
        generation=gen,
        ids=[r[0] for r in rows],
        expires=expires,
        model=model,
        matrix=matrix,
        has_vector=has_vector,
        vocab=vocab,
        starts=starts,
        post_doc=np.asarray(docs, dtype=np.int64)[order],
        post_tf=np.asarray(tfs, dtype=np.float32)[order],
        doc_len=doc_len,
        avg_len=float(doc_len.mean()) if n else 0.0,
        first_stage=first_stage,
    )


def _visible_rows(s: Session, user_id: str) -> list[tuple[str, str, bytes | None, str | None, Any]]:
    hidden = blocked_ids(s, user_id)
    cols = (
        SharedUnit.id,
        SharedUnit.content,
        SharedUnit.embedding,
        SharedUnit.embedding_model,
        SharedUnit.expires_at,
        SharedUnit.author_id,
    )
    circle = (
        select(*cols)
        .join(SharedUnitAccess, SharedUnitAccess.shared_unit_id == SharedUnit.id)
        .where(SharedUnitAccess.recipient_id == user_id)
    )
    if hidden:
        circle = circle.where(SharedUnit.sharer_id.not_in(hidden))
    rows = list(s.execute(circle.order_by(SharedUnit.id)))
    sharers = visible_public_sharers(s, user_id)
    if sharers:
        rows += list(
            s.execute(
                select(*cols)
                .where(
                    SharedUnit.sharer_id.in_(sharers),
                    SharedUnit.policy == SharingPolicy.PUBLIC,
                    SharedUnit.can_view.is_(True),
                )
                .order_by(SharedUnit.id)
            )
        )
    seen: set[str] = set()
    out = []
    for r in rows:
        if r[0] in seen or (r[5] and r[5] in hidden):
            continue
        seen.add(r[0])
        out.append((r[0], r[1], r[2], r[3], r[4]))
    return out


_CACHE: OrderedDict[tuple[str, str], SharedIndex] = OrderedDict()
_LOCK = threading.Lock()


def index_for(v: Vivim, s: Session, user_id: str) -> SharedIndex:
    """The reader's index, rebuilt only when the sharing generation moved."""
    gen = generation(s)
    key = (v.master.url_for_display, user_id)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.generation == gen:
            _CACHE.move_to_end(key)
            return cached
    index = build_index(gen, _visible_rows(s, user_id))
    with _LOCK:
        _CACHE[key] = index
        _CACHE.move_to_end(key)
        while len(_CACHE) > MAX_CACHED_READERS:
            _CACHE.popitem(last=False)
    return index


def bm25(ix: SharedIndex, query: str, alive: np.ndarray) -> dict[int, float]:
    words = terms(query) or terms(query, keep_stopwords=True)
    n = len(ix.ids)
    if not words or not n:
        return {}
    scores = np.zeros(n, dtype=np.float32)
    for w in words:
        t = ix.vocab.get(w)
        if t is None:
            continue
        lo, hi = int(ix.starts[t]), int(ix.starts[t + 1])
        d, tf = ix.post_doc[lo:hi], ix.post_tf[lo:hi]
        idf = math.log(1 + (n - (hi - lo) + 0.5) / ((hi - lo) + 0.5))
        scores[d] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * ix.doc_len[d] / (ix.avg_len or 1.0)))
    ranked = np.where(alive & (scores > 0), scores, -np.inf)
    return {int(i): float(ranked[i]) for i in top_k(ranked, CANDIDATES) if np.isfinite(ranked[i])}


def dense(ix: SharedIndex, query_vector: np.ndarray, alive: np.ndarray) -> dict[int, float]:
    if not ix.has_vector.any():
        return {}
    rows, cosines = nearest(ix.matrix, ix.first_stage, query_vector.astype(np.float32), alive & ix.has_vector, CANDIDATES)
    return dict(zip(rows.tolist(), cosines.tolist(), strict=True))


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vivim-shared-search")
    return _POOL


def _still_visible(s: Session, user_id: str, ids: list[str]) -> list[str]:
    """Defence in depth for the cached index: each hit's audience row (or public policy) is
    checked again against the master DB before it is shown."""
    if not ids:
        return []
    visible = set(
        s.scalars(
            select(SharedUnit.id)
            .outerjoin(
                SharedUnitAccess,
                (SharedUnitAccess.shared_unit_id == SharedUnit.id) & (SharedUnitAccess.recipient_id == user_id),
            )
            .where(
                SharedUnit.id.in_(ids),
                (SharedUnit.policy == SharingPolicy.PUBLIC) | SharedUnitAccess.recipient_id.is_not(None),
            )
        )
    )
    return [i for i in ids if i in visible]


def search_shared(
    v: Vivim, actor: UserRecord, query: str, *, limit: int = 10, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Hybrid search over the shares the actor may read; each hit is the share as the feed
    shows it (signature verified) plus its score."""
    limit = max(1, min(limit, 200))
    if not query.strip():
        return {"query": query, "hits": []}
    now = utcnow()
    with v.master.session() as s:
        ix = index_for(v, s, actor.id)
        alive = ix.alive(now.timestamp())
        vec: dict[int, float] = {}
        if embedder is not None and ix.model == embedder.model_id:
            # The model releases the GIL: embed the query while BM25 ranks.
            pending = _pool().submit(embedder.embed_query, query)
            lex = bm25(ix, query, alive)
            vec = dense(ix, np.asarray(pending.result()), alive)
        else:
            lex = bm25(ix, query, alive)
        fused = fuse(lex, vec)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        ranked = [(ix.ids[row], score) for row, score in best]
        ids = _still_visible(s, actor.id, [sid for sid, _ in ranked])
        items = {it["id"]: it for it in _items(s, actor.id, ids, now, blocked_ids(s, actor.id))}
        # A hit whose share went since the index was built is skipped, never shown stale.
        hits = [{**items[sid], "score": round(score, 6)} for sid, score in ranked if sid in items]
        return {"query": query, "hits": hits}
