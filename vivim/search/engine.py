"""Hybrid search over a user's units: BM25 (FTS5) and cosine similarity, fused.

The recipe (measured on LoCoMo in benchmarks/locomo_research.py; docs/UNITS.md):
1. Names of the vault's participants (message authors) are taken out of the query: they
   match a huge share of units and say nothing about content. A question that names
   exactly one participant boosts that participant's units instead.
2. Full text: the remaining words, stopwords dropped, OR-ed, BM25 over each unit's own
   text and its date written out; each hit passes half its score to the units next to it
   in the conversation and a quarter to those two away (a turn is answered in context).
3. Vectors: cosine between the query and each unit's context vector (see indexer.py).
4. Fusion over the union of both candidate lists: 0.5 * bm25 / max(bm25) plus
   0.5 * cosine rescaled so the candidate list spans [0, 1]; + 0.25 for the named speaker.

Full-text search works on every unit as soon as it is extracted; vectors join in as the
background indexer embeds units. Filters apply to both sides before fusion.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from vivim.domain.errors import InvalidInput
from vivim.domain.times import parse_time
from vivim.embed.base import Embedder
from vivim.search.query import terms
from vivim.search.vectors import UnitIndex, index_for, scan, search_reader
from vivim.search.word_scores import summed
from vivim.store.user.db import UserStore

CANDIDATES = 200
MAX_QUERY_TERMS = 24
# Words in more than this share of a large vault are left out of the full-text query.
COMMON_WORD_SHARE = 0.05
COMMON_WORD_MIN_UNITS = 20_000
# Stop adding (ever more common) words once the matched units would exceed this.
LEXICAL_DOC_BUDGET = 20_000
SPREAD_NEAR, SPREAD_FAR = 0.5, 0.25
LEXICAL_WEIGHT = 0.5
SPEAKER_BOOST = 0.25


@dataclass(frozen=True)
class Filters:
    provider: str | None = None
    conversation_id: str | None = None
    type: str | None = None
    role: str | None = None
    since: str | None = None
    """ISO 8601; units whose source message is at or after this time."""
    until: str | None = None

    def any(self) -> bool:
        # Not asdict(): it deep-copies every field, a sixth of a millisecond per search.
        return any(getattr(self, f.name) is not None for f in fields(self))


@dataclass
class Hit:
    unit_id: str
    conversation_id: str | None
    message_id: str | None
    message_source_id: str | None
    """The provider's own id of the message the unit came from."""
    score: float
    text: str
    type: str
    role: str | None
    author: str | None
    provider: str | None
    source_timestamp: str | None
    conversation_title: str | None

    def to_json(self) -> dict[str, Any]:
        # Every field is a plain value: a shallow copy is asdict() without its recursion.
        return dict(self.__dict__)


def named_participants(query: str, participants: list[str]) -> list[str]:
    return [p for p in participants if re.search(rf"\b{re.escape(p)}\b", query, re.IGNORECASE)]


def strip_names(query: str, names: list[str]) -> str:
    out = query
    for name in names:
        out = re.sub(rf"\b{re.escape(name)}(?:['’]s)?\b", " ", out, flags=re.IGNORECASE)
    out = re.sub(r"\s+", " ", out).strip()
    return out or query


def _mask(ix: UnitIndex, filters: Filters) -> np.ndarray | None:
    if not filters.any():
        return None
    mask = np.ones(len(ix.ids), dtype=bool)
    for field, value in (
        ("provider", filters.provider),
        ("conversation", filters.conversation_id),
        ("type", filters.type),
        ("role", filters.role),
    ):
        if value is not None:
            mask &= getattr(ix, field) == ix.code(field, value)
    for bound, keep in ((filters.since, np.greater_equal), (filters.until, np.less)):
        if bound:
            when = parse_time(bound)
            if when is None:
                raise InvalidInput(f"{bound!r} is not a date or time (use ISO 8601, e.g. 2024-05-01)")
            with np.errstate(invalid="ignore"):
                mask &= keep(ix.timestamp, when.timestamp())
    return mask


def prune_common_words(words: list[str], df: dict[str, int], total: int) -> list[str]:
    """Drop words found in a large share of the vault: their BM25 weight is near zero, but
    ranking every unit they match costs the most. The rarest word is always kept."""
    by_rarity = sorted(words, key=lambda w: df.get(w, 0))
    kept = [w for w in by_rarity if df.get(w, 0) <= COMMON_WORD_SHARE * total]
    budget, out = 0, []
    for w in kept:
        if out and budget + df[w] > LEXICAL_DOC_BUDGET:
            break
        out.append(w)
        budget += df[w]
    return out or by_rarity[:1]


Ranking = tuple[np.ndarray, np.ndarray]
"""Candidates as arrays: distinct int64 index rows and their float64 scores, in no order.
Arrays rather than dicts: the thousand-odd candidates of a search are spread, fused and
ranked in a few vectorised steps instead of a Python loop each (about 1 ms a search)."""

NEIGHBOURS = ((-1, SPREAD_NEAR), (1, SPREAD_NEAR), (-2, SPREAD_FAR), (2, SPREAD_FAR))


def _no_candidates() -> Ranking:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)


def query_words(query: str) -> list[str]:
    """The words full text looks for: the query's without stopwords, or with them when
    that leaves none."""
    return terms(query) or terms(query, keep_stopwords=True)


def lexical(conn: sqlite3.Connection, ix: UnitIndex, words: list[str], mask: np.ndarray | None) -> Ranking:
    """BM25 scores of ``words`` (``query_words``) OR-ed (higher is better; FTS5's, summed
    from the words' kept parts), with the neighbour spread."""
    if not words:
        return _no_candidates()
    if len(ix.ids) >= COMMON_WORD_MIN_UNITS:
        words = prune_common_words(words, ix.word_scores.counts(conn, words), len(ix.ids))
    rows, scores = summed([ix.word_scores.part(conn, ix, w) for w in words[:MAX_QUERY_TERMS]])
    if mask is not None:  # before the cut: the best of the units the filter keeps
        kept = mask[rows]
        rows, scores = rows[kept], scores[kept]
    if rows.size > CANDIDATES:
        top = np.argpartition(-scores, CANDIDATES - 1)[:CANDIDATES]
        rows, scores = rows[top], scores[top]
    return spread_to_neighbours(ix, rows, scores, mask)


def spread_to_neighbours(ix: UnitIndex, rows: np.ndarray, scores: np.ndarray, mask: np.ndarray | None) -> Ranking:
    """Each hit passes a share of its score to the units around it in its conversation."""
    row_parts, score_parts = [rows], [scores]
    for offset, weight in NEIGHBOURS:
        near = rows + offset
        inside = (near >= 0) & (near < len(ix.ids))
        near, source, source_scores = near[inside], rows[inside], scores[inside]
        same = ix.conversation[near] == ix.conversation[source]
        if mask is not None:
            same &= mask[near]
        row_parts.append(near[same])
        score_parts.append(weight * source_scores[same])
    out_rows, where = np.unique(np.concatenate(row_parts), return_inverse=True)
    return out_rows, np.bincount(where, weights=np.concatenate(score_parts), minlength=out_rows.size)


def semantic(ix: UnitIndex, query_vector: np.ndarray, mask: np.ndarray | None) -> Ranking:
    if not ix.has_vector.any():
        return _no_candidates()
    keep = ix.has_vector if mask is None else ix.has_vector & mask
    rows, cosines = scan(ix, query_vector, keep, CANDIDATES)
    return rows, cosines.astype(np.float64)


def fuse_rankings(lex: Ranking, dense: Ranking) -> Ranking:
    lex_rows, lex_scores = lex
    dense_rows, dense_scores = dense
    top_lex = (float(lex_scores.max()) if lex_scores.size else 0.0) or 1.0
    lo, hi = (float(dense_scores.min()), float(dense_scores.max())) if dense_scores.size else (0.0, 1.0)
    span = (hi - lo) or 1.0
    rows = np.union1d(lex_rows, dense_rows)
    scores = np.zeros(rows.size, dtype=np.float64)
    scores[np.searchsorted(rows, lex_rows)] += LEXICAL_WEIGHT * lex_scores / top_lex
    scores[np.searchsorted(rows, dense_rows)] += (1 - LEXICAL_WEIGHT) * ((dense_scores - lo) / span)
    return rows, scores


def fuse(lex: dict[int, float], dense: dict[int, float]) -> dict[int, float]:
    """``fuse_rankings`` for candidates kept in dicts (row -> score)."""
    rows, scores = fuse_rankings(_ranking(lex), _ranking(dense))
    return dict(zip(rows.tolist(), scores.tolist(), strict=True))


def _ranking(scores: dict[int, float]) -> Ranking:
    return (
        np.fromiter(scores.keys(), dtype=np.int64, count=len(scores)),
        np.fromiter(scores.values(), dtype=np.float64, count=len(scores)),
    )


def best(ranking: Ranking, limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best candidates: highest score first, then reading order."""
    rows, scores = ranking
    order = np.lexsort((rows, -scores))[:limit]
    return list(zip(rows[order].tolist(), scores[order].tolist(), strict=True))


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vivim-search")
    return _POOL


class _InFlight:
    """How many searches are running in this process (every user, every engine)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.count -= 1


_IN_FLIGHT = _InFlight()
_CORES = os.cpu_count() or 1


class SearchEngine:
    """Hybrid search. ``embedder`` may be None (full text only)."""

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder

    def search(
        self, store: UserStore, query: str, *, limit: int = 10, filters: Filters | None = None
    ) -> list[Hit]:
        filters = filters or Filters()
        limit = max(1, min(limit, 1000))
        ix = index_for(store)
        if not ix.ids or not query.strip():
            return []
        mask = _mask(ix, filters)
        named = named_participants(query, ix.participants)
        content_query = strip_names(query, named)

        words = query_words(content_query)

        def run_lexical() -> Ranking:
            with search_reader(store) as conn:
                return lexical(conn, ix, words, mask)

        with _IN_FLIGHT as running:
            dense = _no_candidates()
            if self.embedder is not None and ix.model == self.embedder.model_id:
                # Full text that needs FTS5 (a word not seen since the index loaded) is ranked
                # on a free core while the query is embedded (the model and SQLite both release
                # the GIL), for the latency of the longer. Words seen before are summed from
                # kept parts in a fraction of a millisecond, and when every core has a search
                # already, handing work to another thread would only add its cost (about
                # 1 ms of CPU a search; docs/PERFORMANCE.md).
                cold = not ix.word_scores.knows(words)
                pending = _pool().submit(run_lexical) if cold and running < _CORES else None
                dense = semantic(ix, self.embedder.embed_query(content_query), mask)
                lex = pending.result() if pending is not None else run_lexical()
            else:
                lex = run_lexical()
        rows, scores = fuse_rankings(lex, dense)
        if len(named) == 1:
            # Naming both participants says nothing about whose turn holds the answer.
            scores[ix.author[rows] == ix.code("author", named[0])] += SPEAKER_BOOST
        return self._hits(store, ix, best((rows, scores), limit))

    def _hits(self, store: UserStore, ix: UnitIndex, best: list[tuple[int, float]]) -> list[Hit]:
        if not best:
            return []
        ids = [ix.ids[row] for row, _ in best]
        with search_reader(store) as conn:
            rows = conn.execute(
                "SELECT u.id, u.conversation_id, u.message_id, m.source_id, u.content, u.type, u.role, u.author,"
                " u.provider, u.source_timestamp, c.title FROM atomic_chat_units u"
                " LEFT JOIN messages m ON m.id = u.message_id LEFT JOIN conversations c ON c.id = u.conversation_id"
                f" WHERE u.id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        hits = []
        for (_row, score), uid in zip(best, ids, strict=True):
            r = by_id.get(uid)
            if r is None:  # deleted since the index was loaded
                continue
            hits.append(
                Hit(uid, r[1], r[2], r[3], round(score, 6), r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            )
        return hits
