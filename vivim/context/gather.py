"""Candidates for each layer: what could go in, scored for the message at hand.

Relevance without an LLM: the share of the message's content words a candidate contains
(and, for memories with vectors from the search model, their cosine with the message).
Units come from vivim's hybrid search. Source rows that rarely change (facts, memories,
topics, entities) are kept in the store's memo until their table changes.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vivim.context import sources
from vivim.context.budget import count_cached
from vivim.context.layers import Piece
from vivim.context.settings import UserContextSettings
from vivim.search.engine import Filters, SearchEngine
from vivim.search.query import terms
from vivim.search.vectors import index_for
from vivim.store.user.db import UserStore

PERSONAL_MEMORY = {"IDENTITY": "identity", "PREFERENCE": "preferences"}
MEMORY_LONG_TOKENS = 120
UNIT_BOOST = 0.15
PINNED_BOOST = 0.3
MEMORY_FLOOR = 0.05
# More candidates than any layer's maximum share could hold at the largest budgets.
MAX_CANDIDATES = 60


@dataclass
class Request:
    message: str
    words: set[str]
    conversation_id: str | None
    persona: sources.Row | None
    settings: UserContextSettings
    style: str
    snapshot: sources.Snapshot


def stem(word: str) -> str:
    """A light suffix-stripper, so "tomatoes" meets "tomato" and "grows" meets "grow"."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith("es") and (w[-3] in "sxzo" or w[-4:-2] in ("ch", "sh")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed"):
        return w[:-2]
    return w


def stems(text: str) -> set[str]:
    return {stem(w) for w in terms(text)}


def relevance(words: set[str], text: str | set[str]) -> float:
    """The share of the message's (stemmed) content words that ``text`` contains (pass
    the text's stems when they are known)."""
    if not words:
        return 0.0
    have = text if isinstance(text, set) else stems(text)
    return len(words & have) / len(words)


def _with_stems(rows: list[sources.Row]) -> list[sources.Row]:
    for r in rows:
        r.meta["_stems"] = stems(r.text + " " + (r.meta.get("summary") or ""))
    return rows


@dataclass
class RowTable:
    """Rows (memories or facts) with what scoring them needs, kept until their table
    changes: stems in an inverted index, importance and pinning as arrays, and for
    memories the vector matrix of the most common embedding model."""

    rows: list[sources.Row]
    postings: dict[str, np.ndarray]
    importance: np.ndarray
    pinned: np.ndarray
    kinds: np.ndarray
    model: str | None = None
    matrix: np.ndarray | None = None
    row_of_vector: np.ndarray | None = None

    def lexical(self, words: set[str]) -> np.ndarray:
        """Per row, the share of ``words`` it contains (from the inverted index)."""
        out = np.zeros(len(self.rows), dtype=np.float64)
        if not words:
            return out
        for w in words:
            rows = self.postings.get(w)
            if rows is not None:
                out[rows] += 1.0
        return out / len(words)

    def top_personal(
        self, words: set[str], n: int, kinds: set[str] | None = None
    ) -> list[tuple[sources.Row, float]]:
        """The ``n`` best rows (of ``kinds``) by pinning, then relevance plus importance."""
        if not self.rows:
            return []
        score = self.pinned + self.lexical(words) + self.importance / 10
        idx = np.arange(len(self.rows)) if kinds is None else np.flatnonzero(np.isin(self.kinds, list(kinds)))
        if len(idx) > n:
            idx = idx[np.argpartition(-score[idx], n - 1)[:n]]
        ranked = sorted(idx.tolist(), key=lambda i: (-score[i], i))
        return [(self.rows[i], float(score[i])) for i in ranked]


def _table(rows: list[sources.Row]) -> RowTable:
    rows = _with_stems(rows)
    lists: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        for w in r.meta["_stems"]:
            lists.setdefault(w, []).append(i)
    return RowTable(
        rows,
        {w: np.array(ix, dtype=np.int64) for w, ix in lists.items()},
        np.array([r.importance for r in rows], dtype=np.float64),
        np.array([1.0 if r.pinned else 0.0 for r in rows], dtype=np.float64),
        np.array([r.kind or "" for r in rows], dtype=object),
    )


def memory_table(store: UserStore, conn: sqlite3.Connection, snap: sources.Snapshot) -> RowTable:
    def load() -> RowTable:
        table = _table(sources.memories(conn))
        rows = table.rows
        models = [r.meta["embedding_model"] for r in rows if r.meta["vector"] is not None]
        if not models:
            return table
        model = max(set(models), key=models.count)
        idx = [
            i
            for i, r in enumerate(rows)
            if r.meta["vector"] is not None and r.meta["embedding_model"] == model
        ]
        if len({len(rows[i].meta["vector"]) for i in idx}) != 1:
            return table
        table.model = model
        table.matrix = np.stack([rows[i].meta["vector"] for i in idx]).astype(np.float32)
        table.row_of_vector = np.array(idx)
        return table

    return cached(store, snap, "memories", load)


def fact_table(store: UserStore, conn: sqlite3.Connection, snap: sources.Snapshot) -> RowTable:
    return cached(store, snap, "facts", lambda: _table(sources.facts(conn)))


_TOKEN = re.compile(r"[\w'.+#-]+")


def _phrase_key(text: str) -> str:
    return " ".join(w for w in (t.strip(".'") for t in _TOKEN.findall(text.lower())) if w)


def ngrams(text: str, longest: int) -> list[str]:
    """Every run of 1..``longest`` words of ``text``, normalised as phrase keys, longest first."""
    words = [w for w in (t.strip(".'") for t in _TOKEN.findall(text.lower())) if w]
    return [" ".join(words[i : i + n]) for n in range(longest, 0, -1) for i in range(len(words) - n + 1)]


def cached(store: UserStore, snap: sources.Snapshot, part: str, load: Callable[[], Any]) -> Any:
    """``load()``'s result, kept in the store's memo until table ``part`` changes."""
    key = f"context.{part}"
    hit = store.memo.get(key)
    if hit is not None and hit[0] == snap.parts[part]:
        return hit[1]
    value = load()
    store.memo[key] = (snap.parts[part], value)
    return value


def _date(ts: str | None) -> str:
    return ts[:10] if ts else ""


def _line(style: str, text: str) -> str:
    return f"- {' '.join(text.split())}"


def identity(
    store: UserStore, conn: sqlite3.Connection, req: Request, table: RowTable | None, kinds: set[str]
) -> list[Piece]:
    """Facts, and IDENTITY memories when ``kinds`` (the memory types allowed) has them."""
    facts = fact_table(store, conn, req.snapshot)
    out = []
    for f, score in facts.top_personal(req.words, MAX_CANDIDATES):
        out.append(
            Piece(
                "fact",
                f.id,
                _line(req.style, f.text),
                score,
                meta={
                    "category": f.kind,
                    "conversation_id": f.meta.get("conversation_id"),
                    "message_id": f.meta.get("message_id"),
                },
            )
        )
    if table is not None and "IDENTITY" in kinds:
        out.extend(
            _memory_piece(m, req, sc) for m, sc in table.top_personal(req.words, MAX_CANDIDATES, {"IDENTITY"})
        )
    out.sort(key=lambda p: -p.score)
    return out[:MAX_CANDIDATES]


def _memory_piece(m: sources.Row, req: Request, score: float, group: str | None = None) -> Piece:
    line = m.meta.get("_line")
    if line is None:
        text = m.text
        summary = m.meta.get("summary")
        if summary and count_cached(text) > MEMORY_LONG_TOKENS:
            text = summary
        line = m.meta["_line"] = _line(req.style, text)
    header = None
    if group is not None:
        header = "**Memories**" if req.style == "markdown" else "Memories:"
    return Piece(
        "memory",
        m.id,
        line,
        score,
        group=group,
        group_header=header,
        meta={
            "memory_type": m.kind,
            "conversation_id": m.meta.get("conversation_id"),
            "message_id": m.meta.get("message_id"),
            "unit_id": m.meta.get("unit_id"),
        },
    )


def preferences(
    conn: sqlite3.Connection, req: Request, table: RowTable | None, kinds: set[str], topic_slugs: set[str]
) -> list[Piece]:
    out: list[Piece] = []
    p = req.persona
    if p is not None:
        out.append(
            Piece(
                "persona",
                p.id,
                f"Persona {p.meta['name']}: {' '.join(p.text.split())}",
                100.0,
                meta={"name": p.meta["name"]},
            )
        )
    for i in sources.instructions(conn, persona_id=p.id if p else None, topic_slugs=topic_slugs):
        out.append(
            Piece(
                "instruction",
                i.id,
                _line(req.style, i.text),
                50.0 + i.importance,
                meta={"scope": i.kind, "origin": i.meta.get("source")},
            )
        )
    if table is not None and "PREFERENCE" in kinds:
        out.extend(
            _memory_piece(m, req, sc)
            for m, sc in table.top_personal(req.words, MAX_CANDIDATES, {"PREFERENCE"})
        )
    out.sort(key=lambda x: -x.score)
    return out[:MAX_CANDIDATES]


def active_topics(
    store: UserStore, conn: sqlite3.Connection, req: Request
) -> list[tuple[sources.Row, float]]:
    """The conversation's own topics, else those whose label or key phrases the message
    uses; best first."""

    def load() -> tuple[list[sources.Row], dict[str, list[int]]]:
        rows = sources.topics(conn)
        phrases: dict[str, list[int]] = {}
        for i, t in enumerate(rows):
            for key in {_phrase_key(p) for p in (t.meta["label"], *t.meta["keyphrases"]) if p}:
                if key:
                    phrases.setdefault(key, []).append(i)
        return rows, phrases

    all_topics, phrases = cached(store, req.snapshot, "topics", load)
    excluded = req.settings.excluded("topics")
    found: dict[str, tuple[sources.Row, float]] = {}
    if req.conversation_id:
        linked = sources.conversation_topics(conn, req.conversation_id)
        for t in all_topics:
            if t.id in linked:
                found[t.id] = (t, 1.0 + linked[t.id])
    hits: dict[int, int] = {}
    for gram in set(ngrams(req.message, 4)):
        for i in phrases.get(gram, ()):
            hits[i] = hits.get(i, 0) + 1
    for i, n in hits.items():
        t = all_topics[i]
        score = n / (1 + len(t.meta["keyphrases"])) + t.importance / 100
        if t.id not in found or found[t.id][1] < score:
            found[t.id] = (t, score)
    ranked = sorted(found.values(), key=lambda x: -x[1])
    return [(t, s) for t, s in ranked if t.meta["slug"] not in excluded and t.meta["label"] not in excluded]


def topic(req: Request, ranked: list[tuple[sources.Row, float]]) -> list[Piece]:
    out = []
    for t, score in ranked[:3]:
        m = t.meta
        bits = [f"{m['label']}"]
        if t.text:
            bits.append(f"— {' '.join(t.text.split())}")
        if m["keyphrases"]:
            bits.append(f"(key phrases: {', '.join(m['keyphrases'][:8])})")
        engaged = f"{m['conversation_count']} conversations"
        if m["first_engaged_at"]:
            engaged += f" since {_date(m['first_engaged_at'])}"
        if m["last_engaged_at"]:
            engaged += f", last {_date(m['last_engaged_at'])}"
        bits.append(f"[{engaged}]")
        out.append(Piece("topic", t.id, "- " + " ".join(bits), score, meta={"slug": m["slug"]}))
    return out


def entities(store: UserStore, conn: sqlite3.Connection, req: Request) -> list[Piece]:
    def load() -> tuple[list[sources.Row], dict[str, int]]:
        rows = sources.entities(conn)
        names: dict[str, int] = {}
        for i, e in enumerate(rows):
            for n in (e.meta["name"], e.meta["normalized_name"], *e.meta["aliases"]):
                key = _phrase_key(str(n))
                if key and len(key) > 1:
                    names.setdefault(key, i)
        return rows, names

    rows, names = cached(store, req.snapshot, "entities", load)
    if not names:
        return []
    found: dict[int, None] = {}
    for gram in ngrams(req.message, 4):
        idx = names.get(gram)
        if idx is not None:
            found.setdefault(idx, None)
    excluded = {x.lower() for x in req.settings.excluded("entities")}
    out = []
    for idx in found:
        e = rows[idx]
        m = e.meta
        if m["name"].lower() in excluded:
            continue
        desc = f" — {' '.join(e.text.split())}" if e.text else ""
        seen = f"mentioned {m['mention_count']} times in {m['conversation_count']} conversations"
        if m["last_seen_at"]:
            seen += f", last {_date(m['last_seen_at'])}"
        out.append(
            Piece(
                "entity",
                e.id,
                f"- {m['name']} ({e.kind}){desc} [{seen}]",
                e.importance,
                meta={"name": m["name"], "type": e.kind},
            )
        )
    out.sort(key=lambda p: -p.score)
    return out


def history(conn: sqlite3.Connection, req: Request) -> list[Piece]:
    s = req.settings
    rows = sources.recent_conversations(
        conn,
        limit=int(s.option("history_conversations")),
        exclude_id=req.conversation_id,
        excluded_providers=s.excluded("providers"),
        excluded_ids=s.excluded("conversations"),
    )
    return [
        Piece(
            "conversation",
            r.id,
            f"- {r.text} ({r.kind}, {_date(r.meta['when'])}, {r.meta['messages']} messages)",
            1.0 - i / 100,
            meta={"title": r.text},
        )
        for i, r in enumerate(rows)
    ]


def retrieval(
    store: UserStore,
    search: SearchEngine | None,
    req: Request,
    table: RowTable | None,
    *,
    skip_conversation: bool,
) -> list[Piece]:
    s = req.settings
    threshold = s.similarity_threshold
    out: list[Piece] = []
    if search is not None:
        out.extend(_units(store, search, req, skip_conversation, threshold))
    if s.option("include_memories") and table is not None and table.rows:
        personal = {k for k, layer in PERSONAL_MEMORY.items() if s.layers()[layer].enabled}
        excluded = s.excluded("memory_types") | personal
        for i, score in _memory_scores(search, req, table, threshold):
            m = table.rows[i]
            if m.kind in excluded:
                continue
            out.append(_memory_piece(m, req, score + (PINNED_BOOST if m.pinned else 0.0), group="memories"))
    out.sort(key=lambda p: -p.score)
    return out


def _memory_scores(
    search: SearchEngine | None, req: Request, table: RowTable, threshold: float
) -> list[tuple[int, float]]:
    """(row, relevance) for every memory: shared words, and where the memories have
    vectors from the search's model, half of it their cosine with the message."""
    lex = table.lexical(req.words)
    score = lex.copy()
    embedder = search.embedder if search is not None else None
    if embedder is not None and table.matrix is not None and table.model == embedder.model_id:
        # Elementwise rather than BLAS: a few thousand rows are faster without waking (and,
        # on a busy machine, waiting for) the BLAS thread pool.
        cos = (table.matrix * embedder.embed_query(req.message)).sum(axis=1)
        rows = table.row_of_vector
        score[rows] = 0.5 * lex[rows] + 0.5 * cos
    score += table.importance / 100
    keep = np.flatnonzero(score >= max(threshold, MEMORY_FLOOR))
    return [(int(i), float(score[i])) for i in keep]


def _units(
    store: UserStore, search: SearchEngine, req: Request, skip_conversation: bool, threshold: float
) -> list[Piece]:
    s = req.settings
    hits = search.search(store, req.message, limit=int(s.option("retrieval_limit")), filters=Filters())
    ex_prov, ex_conv, ex_type = s.excluded("providers"), s.excluded("conversations"), s.excluded("unit_types")
    boost = set(s.option("boost_types") or [])
    ix = index_for(store)  # rows are in reading order: units of a conversation render in it
    seen_text: set[str] = set()
    out = []
    for h in hits:
        if h.provider in ex_prov or h.conversation_id in ex_conv or h.type in ex_type:
            continue
        if skip_conversation and h.conversation_id == req.conversation_id:
            continue
        score = h.score + (UNIT_BOOST if h.type in boost else 0.0)
        if score < threshold:
            continue
        text = h.text.strip()
        if not text or text in seen_text:
            continue
        seen_text.add(text)
        speaker = h.author or h.role or "unknown"
        title = h.conversation_title or "(untitled)"
        when = _date(h.source_timestamp)
        if req.style == "markdown":
            header = f"**{title}** ({', '.join(x for x in (h.provider, when) if x)})"
        else:
            header = f'From "{title}" ({", ".join(x for x in (h.provider, when) if x)}):'
        out.append(
            Piece(
                "unit",
                h.unit_id,
                f"{speaker}: {text}",
                score,
                group=h.conversation_id or h.unit_id,
                group_header=header,
                order=(ix.row_of_id(h.unit_id) or 0,),
                meta={
                    "conversation_id": h.conversation_id,
                    "message_id": h.message_id,
                    "message_source_id": h.message_source_id,
                    "type": h.type,
                },
            )
        )
    return out
