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

import heapq
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vivim.domain.errors import InvalidInput
from vivim.domain.times import parse_time
from vivim.embed.base import Embedder
from vivim.search.query import terms
from vivim.search.vectors import UnitIndex, index_for, scan, search_reader
from vivim.store.user.db import UserStore
from vivim.store.user.units import search_generation

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
        return any(v is not None for v in asdict(self).values())


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


def document_frequencies(
    conn: sqlite3.Connection, store_memo: dict[str, Any], generation: str, words: list[str]
) -> dict[str, int]:
    """How many units contain each word, cached until the index changes."""
    cached = store_memo.get("df")
    if cached is None or cached[0] != generation:
        cached = (generation, {})
        store_memo["df"] = cached
    df: dict[str, int] = cached[1]
    for w in words:
        if w not in df:
            df[w] = conn.execute(
                "SELECT count(*) FROM unit_fts WHERE unit_fts MATCH ?", ('"' + w.replace('"', '""') + '"',)
            ).fetchone()[0]
    return {w: df[w] for w in words}


def prune_common_words(words: list[str], df: dict[str, int], total: int) -> list[str]:
    """Drop words found in a large share of the vault: their BM25 weight is near zero, but
    ranking every unit they match costs the most. The rarest word is always kept."""
    if total < COMMON_WORD_MIN_UNITS:
        return words
    by_rarity = sorted(words, key=lambda w: df.get(w, 0))
    kept = [w for w in by_rarity if df.get(w, 0) <= COMMON_WORD_SHARE * total]
    budget, out = 0, []
    for w in kept:
        if out and budget + df[w] > LEXICAL_DOC_BUDGET:
            break
        out.append(w)
        budget += df[w]
    return out or by_rarity[:1]


def lexical(
    conn: sqlite3.Connection,
    ix: UnitIndex,
    query: str,
    mask: np.ndarray | None,
    memo: dict[str, Any],
    generation: str,
) -> dict[int, float]:
    """Row -> BM25 score (higher is better), with the neighbour spread."""
    words = terms(query) or terms(query, keep_stopwords=True)
    if not words:
        return {}
    words = prune_common_words(words, document_frequencies(conn, memo, generation, words), len(ix.ids))
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words[:MAX_QUERY_TERMS])
    # Over-fetch when filtering: the filter is applied after the full-text ranking.
    limit = CANDIDATES if mask is None else CANDIDATES * 10
    found = conn.execute(
        "SELECT rowid, -rank FROM unit_fts WHERE unit_fts MATCH ? ORDER BY rank LIMIT ?", (match, limit)
    ).fetchall()
    scores: dict[int, float] = {}
    for rowid, s in found:
        row = ix.row_of_rowid(rowid)
        if row is not None:  # extracted after the index was loaded: picked up on reload
            scores[row] = s
    if mask is not None:
        scores = {r: s for r, s in scores.items() if mask[r]}
        scores = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:CANDIDATES])
    spread = dict(scores)
    for row, s in scores.items():
        for offset, w in ((-1, SPREAD_NEAR), (1, SPREAD_NEAR), (-2, SPREAD_FAR), (2, SPREAD_FAR)):
            j = ix.neighbour(row, offset)
            if j is not None and (mask is None or mask[j]):
                spread[j] = spread.get(j, 0.0) + w * s
    return spread


def semantic(ix: UnitIndex, query_vector: np.ndarray, mask: np.ndarray | None) -> dict[int, float]:
    if not ix.has_vector.any():
        return {}
    keep = ix.has_vector if mask is None else ix.has_vector & mask
    return dict(scan(ix, query_vector, keep, CANDIDATES))


def fuse(lex: dict[int, float], dense: dict[int, float]) -> dict[int, float]:
    top_lex = max(lex.values(), default=0.0) or 1.0
    lo, hi = (min(dense.values()), max(dense.values())) if dense else (0.0, 1.0)
    span = (hi - lo) or 1.0
    return {
        i: LEXICAL_WEIGHT * lex.get(i, 0.0) / top_lex
        + (1 - LEXICAL_WEIGHT) * ((dense[i] - lo) / span if i in dense else 0.0)
        for i in lex.keys() | dense.keys()
    }


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vivim-search")
    return _POOL


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

        def run_lexical() -> dict[int, float]:
            with search_reader(store) as conn:
                return lexical(conn, ix, content_query, mask, store.memo, search_generation(conn))

        dense: dict[int, float] = {}
        if self.embedder is not None and ix.model == self.embedder.model_id:
            # The model and SQLite both release the GIL: embed the query while FTS ranks.
            pending = _pool().submit(run_lexical)
            dense = semantic(ix, self.embedder.embed_query(content_query), mask)
            lex = pending.result()
        else:
            lex = run_lexical()
        fused = fuse(lex, dense)
        if len(named) == 1:
            # Naming both participants says nothing about whose turn holds the answer.
            speaker = ix.code("author", named[0])
            for row in fused:
                if ix.author[row] == speaker:
                    fused[row] += SPEAKER_BOOST
        # The same order as sorting every candidate (score, then reading order), without
        # sorting the thousand-odd candidates when ten are wanted.
        best = heapq.nsmallest(limit, fused.items(), key=lambda kv: (-kv[1], kv[0]))
        return self._hits(store, ix, best)

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
