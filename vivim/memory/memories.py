"""Memories: create, read, edit, pin, archive, delete, search.

Public functions (each takes a :class:`~vivim.store.user.db.UserStore`; ``memory_id`` may be
a full id or an unambiguous prefix of at least 6 characters):

- ``create_memory(store, content, ...)`` -> dict; a statement that normalises to one already
  remembered is merged into it (importance kept at the higher value), not repeated
- ``get_memory(store, memory_id, touch=False)`` -> dict with its ``sources`` (provenance)
- ``list_memories(store, memory_type=, category=, pinned=, archived=False, limit=, offset=)``
- ``update_memory(store, memory_id, content=, summary=, memory_type=, category=, importance=,
  pinned=, archived=, embedder=)`` -> dict
- ``delete_memory(store, memory_id)``; an extracted memory the user deletes is not
  extracted again
- ``search_memories(store, query, embedder=None, limit=, memory_type=, include_archived=)``
  -> list of dicts with ``score``: full text (BM25) fused with cosine similarity of the
  memory embeddings when an embedder is given
- ``record_access(store, memory_ids)``: count a use (accessCount, lastAccessedAt)
- ``embed_missing(store, embedder)``: compute embeddings for memories without one (or made
  by another model)

Rows come back as plain dicts with JSON columns decoded and booleans as ``bool``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso, utcnow
from vivim.embed.base import Embedder, blob_to_vector, vector_to_blob
from vivim.memory.extract import key_hash, normalise, third_person
from vivim.store.user.db import UserStore

MEMORY_TYPES = (
    "EPISODIC",
    "SEMANTIC",
    "PROCEDURAL",
    "FACTUAL",
    "PREFERENCE",
    "IDENTITY",
    "RELATIONSHIP",
    "GOAL",
    "PROJECT",
    "CUSTOM",
)
MAX_CONTENT_CHARS = 10_000
LEXICAL_WEIGHT = 0.5
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_COLUMNS = (
    "id, content, summary, memory_type, category, content_hash, extracted_entities, topics, embedding_model,"
    " embedding_dim, importance, access_count, last_accessed_at, pinned, archived, source_conversation_id,"
    " source_message_id, source_unit_id, created_at, updated_at, metadata"
)


def _row(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d["extracted_entities"] = json.loads(d["extracted_entities"] or "{}")
    d["topics"] = json.loads(d["topics"] or "[]")
    d["metadata"] = json.loads(d["metadata"] or "{}")
    d["pinned"] = bool(d["pinned"])
    d["archived"] = bool(d["archived"])
    return d


def check_type(memory_type: str) -> str:
    value = memory_type.strip().upper()
    if value not in MEMORY_TYPES:
        raise InvalidInput(f"{memory_type!r} is not a memory type; use one of {', '.join(MEMORY_TYPES)}")
    return value


def check_importance(importance: int) -> int:
    if not isinstance(importance, int) or not 0 <= importance <= 10:
        raise InvalidInput(f"importance must be a whole number from 0 to 10, not {importance!r}")
    return importance


def _check_content(content: str) -> str:
    text = content.strip() if isinstance(content, str) else ""
    if not text:
        raise InvalidInput("a memory needs some content")
    if len(text) > MAX_CONTENT_CHARS:
        raise InvalidInput(f"a memory is at most {MAX_CONTENT_CHARS} characters (this one is {len(text)})")
    return text


def content_key_hash(content: str) -> str:
    """What duplicate memories share: the hash of the normalised statement."""
    key = normalise(content)
    return key_hash(key or content.strip().lower())


def assignments(**values: Any) -> tuple[list[str], list[Any]]:
    """``SET`` clauses and parameters for the columns given a value (None: left as it is)."""
    given = {column: value for column, value in values.items() if value is not None}
    return [f"{column} = ?" for column in given], list(given.values())


def resolve_id(conn: sqlite3.Connection, table: str, ref: str, what: str) -> str:
    """A full id, or an unambiguous prefix of at least 6 hex characters."""
    ref = (ref or "").strip().lower()
    row = conn.execute(f"SELECT id FROM {table} WHERE id = ?", (ref,)).fetchone()
    if row:
        return row[0]
    if len(ref) >= 6 and re.fullmatch(r"[0-9a-f]+", ref):
        rows = conn.execute(f"SELECT id FROM {table} WHERE id >= ? AND id < ? LIMIT 2", (ref, ref + "g")).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            raise InvalidInput(f"{ref!r} matches more than one {what}; give more of the id")
    raise NotFound(f"no {what} {ref[:40]!r}")


def _embed_one(embedder: Embedder | None, text: str) -> tuple[bytes | None, str | None, int | None]:
    if embedder is None:
        return None, None, None
    vector = embedder.embed([text])[0]
    return vector_to_blob(vector), embedder.model_id, embedder.dim


def memory_text(content: str, summary: str | None) -> str:
    """What a memory's vector is computed from."""
    return content if not summary or summary == content else f"{content}\n{summary}"


def create_memory(
    store: UserStore,
    content: str,
    *,
    summary: str | None = None,
    memory_type: str = "SEMANTIC",
    category: str | None = None,
    importance: int = 5,
    pinned: bool = False,
    topics: Sequence[str] = (),
    metadata: dict[str, Any] | None = None,
    source_conversation_id: str | None = None,
    source_message_id: str | None = None,
    source_unit_id: str | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Remember something. Returns the memory; ``merged`` is True when it repeated one
    already remembered (which is then returned, its importance raised if need be)."""
    text = _check_content(content)
    mtype = check_type(memory_type)
    check_importance(importance)
    digest = content_key_hash(text)
    if summary is None and mtype in ("IDENTITY", "PREFERENCE", "RELATIONSHIP", "GOAL", "PROJECT"):
        summary = third_person(text) if re.match(r"(?i)^(?:i|my|i'm|i've)\b", text) else None
    now = to_iso(utcnow())
    with store.transaction() as conn:
        existing = conn.execute("SELECT id FROM memories WHERE content_hash = ?", (digest,)).fetchone()
        if existing:
            conn.execute(
                "UPDATE memories SET importance = max(importance, ?), pinned = max(pinned, ?), updated_at = ?"
                " WHERE id = ?",
                (importance, int(pinned), now, existing[0]),
            )
            memory = _get(conn, existing[0])
            memory["merged"] = True
            return memory
        blob, model, dim = _embed_one(embedder, memory_text(text, summary))
        memory_id = new_id()
        conn.execute(
            "INSERT INTO memories (id, content, summary, memory_type, category, content_hash, topics, embedding,"
            " embedding_model, embedding_dim, importance, pinned, source_conversation_id, source_message_id,"
            " source_unit_id, created_at, updated_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                memory_id,
                text,
                summary,
                mtype,
                category,
                digest,
                _dumps(list(topics)),
                blob,
                model,
                dim,
                importance,
                int(pinned),
                source_conversation_id,
                source_message_id,
                source_unit_id,
                now,
                now,
                _dumps({"origin": "user", **(metadata or {})}),
            ),
        )
        memory = _get(conn, memory_id)
        memory["merged"] = False
        return memory


def _get(conn: sqlite3.Connection, memory_id: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (memory_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no memory {memory_id[:40]!r}")
    d = _row(cur, row)
    d["sources"] = [
        {"conversation_id": r[0], "message_id": r[1], "unit_id": r[2], "excerpt": r[3], "created_at": r[4],
         "conversation_title": r[5], "message_source_id": r[6]}
        for r in conn.execute(
            "SELECT s.conversation_id, s.message_id, s.unit_id, s.excerpt, s.created_at, c.title, m.source_id"
            " FROM memory_sources s LEFT JOIN conversations c ON c.id = s.conversation_id"
            " LEFT JOIN messages m ON m.id = s.message_id WHERE s.memory_id = ?"
            " ORDER BY COALESCE(m.created_at, s.created_at), s.created_at, s.message_id",
            (memory_id,),
        )
    ]
    return d


def get_memory(store: UserStore, memory_id: str, *, touch: bool = False) -> dict[str, Any]:
    if touch:
        with store.transaction() as conn:
            mid = resolve_id(conn, "memories", memory_id, "memory")
            _touch(conn, [mid])
            return _get(conn, mid)
    with store.read() as conn:
        return _get(conn, resolve_id(conn, "memories", memory_id, "memory"))


def list_memories(
    store: UserStore,
    *,
    memory_type: str | None = None,
    category: str | None = None,
    pinned: bool | None = None,
    archived: bool | None = False,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Pinned first, then by importance, newest first. ``archived=None`` lists both."""
    where, params = [], []
    if memory_type:
        where.append("memory_type = ?")
        params.append(check_type(memory_type))
    if category:
        where.append("category = ?")
        params.append(category)
    if pinned is not None:
        where.append("pinned = ?")
        params.append(int(pinned))
    if archived is not None:
        where.append("archived = ?")
        params.append(int(archived))
    sql = f"SELECT {_COLUMNS} FROM memories"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY pinned DESC, importance DESC, created_at DESC, id LIMIT ? OFFSET ?"
    params.extend([max(1, limit), max(0, offset)])
    with store.read() as conn:
        cur = conn.execute(sql, params)
        return [_row(cur, r) for r in cur.fetchall()]


def count_memories(store: UserStore) -> dict[str, int]:
    """Active (not archived) memories per type, plus ``archived`` and ``total``."""
    with store.read() as conn:
        by_type = dict(
            conn.execute("SELECT memory_type, COUNT(*) FROM memories WHERE archived = 0 GROUP BY memory_type")
        )
        archived = conn.execute("SELECT COUNT(*) FROM memories WHERE archived = 1").fetchone()[0]
    return {**by_type, "archived": archived, "total": sum(by_type.values()) + archived}


def update_memory(
    store: UserStore,
    memory_id: str,
    *,
    content: str | None = None,
    summary: str | None = None,
    memory_type: str | None = None,
    category: str | None = None,
    importance: int | None = None,
    pinned: bool | None = None,
    archived: bool | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Change what is given; a new content gets a new key (and vector, with an embedder)."""
    sets, params = assignments(
        memory_type=None if memory_type is None else check_type(memory_type),
        importance=None if importance is None else check_importance(importance),
        pinned=None if pinned is None else int(pinned),
        archived=None if archived is None else int(archived),
    )
    # An empty category or summary clears it (NULL), which assignments() would read as "not given".
    if category is not None:
        sets.append("category = ?")
        params.append(category or None)
    if summary is not None:
        sets.append("summary = ?")
        params.append(summary.strip() or None)
    with store.transaction() as conn:
        mid = resolve_id(conn, "memories", memory_id, "memory")
        if content is not None:
            text = _check_content(content)
            digest = content_key_hash(text)
            clash = conn.execute(
                "SELECT id FROM memories WHERE content_hash = ? AND id != ?", (digest, mid)
            ).fetchone()
            if clash:
                raise InvalidInput(f"another memory ({clash[0]}) already says this; edit or delete that one")
            sets += ["content = ?", "content_hash = ?", "embedding = NULL", "embedding_model = NULL",
                     "embedding_dim = NULL"]
            params += [text, digest]
        if not sets:
            return _get(conn, mid)
        sets.append("updated_at = ?")
        params.append(to_iso(utcnow()))
        conn.execute(f"UPDATE memories SET {', '.join(sets)} WHERE id = ?", [*params, mid])
        if content is not None and embedder is not None:
            row = conn.execute("SELECT content, summary FROM memories WHERE id = ?", (mid,)).fetchone()
            blob, model, dim = _embed_one(embedder, memory_text(row[0], row[1]))
            conn.execute(
                "UPDATE memories SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?",
                (blob, model, dim, mid),
            )
        return _get(conn, mid)


def delete_memory(store: UserStore, memory_id: str) -> str:
    """Delete a memory (and its notebook entries); returns its id."""
    with store.transaction() as conn:
        mid = resolve_id(conn, "memories", memory_id, "memory")
        row = conn.execute("SELECT content_hash, metadata FROM memories WHERE id = ?", (mid,)).fetchone()
        meta = json.loads(row[1] or "{}")
        if meta.get("origin") == "extracted" and row[0]:
            conn.execute(
                "INSERT OR IGNORE INTO memory_suppressions (content_hash, created_at) VALUES (?, ?)",
                (row[0], to_iso(utcnow())),
            )
        conn.execute("DELETE FROM memories WHERE id = ?", (mid,))
    return mid


def _touch(conn: sqlite3.Connection, ids: Iterable[str]) -> None:
    now = to_iso(utcnow())
    conn.executemany(
        "UPDATE memories SET access_count = access_count + 1, last_accessed_at = ? WHERE id = ?",
        [(now, i) for i in ids],
    )


def record_access(store: UserStore, memory_ids: Sequence[str]) -> None:
    """Count a use of these memories (e.g. when they went into a context bundle)."""
    if memory_ids:
        with store.transaction() as conn:
            _touch(conn, memory_ids)


def embed_missing(store: UserStore, embedder: Embedder, *, batch: int = 128) -> int:
    """Vectors for memories that have none (or one from another model); returns how many."""
    done = 0
    while True:
        with store.read() as conn:
            rows = conn.execute(
                "SELECT id, content, summary FROM memories WHERE embedding IS NULL OR embedding_model IS NOT ?"
                " OR embedding_dim IS NOT ? LIMIT ?",
                (embedder.model_id, embedder.dim, batch),
            ).fetchall()
        if not rows:
            return done
        vectors = embedder.embed([memory_text(r[1], r[2]) for r in rows])
        with store.transaction() as conn:
            conn.executemany(
                "UPDATE memories SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?",
                [(vector_to_blob(v), embedder.model_id, embedder.dim, r[0]) for r, v in zip(rows, vectors, strict=True)],
            )
        done += len(rows)


_FTS_WORD = re.compile(r"\w+", re.UNICODE)


def _fts_query(query: str) -> str | None:
    words = [w for w in _FTS_WORD.findall(query.lower()) if len(w) > 1 or w.isdigit()][:24]
    return " OR ".join(f'"{w}"' for w in words) if words else None


def search_memories(
    store: UserStore,
    query: str,
    *,
    embedder: Embedder | None = None,
    limit: int = 10,
    memory_type: str | None = None,
    include_archived: bool = False,
) -> list[dict[str, Any]]:
    """Memories for a query, best first, each with ``score`` in [0, 1]: half BM25 (scaled to
    the best hit), half cosine (rescaled over the candidates) when vectors are available."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("a search needs a query")
    mtype = check_type(memory_type) if memory_type else None
    scores: dict[str, float] = {}
    with store.read() as conn:
        match = _fts_query(query)
        lexical: dict[str, float] = {}
        if match:
            for mid, rank in conn.execute(
                "SELECT memory_id, bm25(memory_fts, 1.0, 0.5) FROM memory_fts WHERE memory_fts MATCH ?"
                " ORDER BY rank LIMIT 200",
                (match,),
            ):
                lexical[mid] = -float(rank)
        if lexical:
            top = max(lexical.values()) or 1.0
            for mid, s in lexical.items():
                scores[mid] = LEXICAL_WEIGHT * (s / top if top > 0 else 0.0)
        if embedder is not None:
            rows = conn.execute(
                "SELECT id, embedding FROM memories WHERE embedding IS NOT NULL AND embedding_model = ?"
                " AND embedding_dim = ?",
                (embedder.model_id, embedder.dim),
            ).fetchall()
            if rows:
                matrix = np.stack([blob_to_vector(r[1], embedder.dim) for r in rows])
                sims = matrix @ embedder.embed_query(query)
                order = np.argsort(-sims)[:200]
                lo, hi = float(sims[order[-1]]), float(sims[order[0]])
                span = hi - lo
                for j in order:
                    cosine = float(sims[j])
                    if cosine <= 0:
                        continue
                    scaled = (cosine - lo) / span if span > 1e-9 else 1.0
                    mid = rows[int(j)][0]
                    scores[mid] = scores.get(mid, 0.0) + (1 - LEXICAL_WEIGHT) * scaled
        if not scores:
            return []
        ids = list(scores)
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            cur = conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            for r in cur.fetchall():
                d = _row(cur, r)
                found[d["id"]] = d
    out = []
    for mid, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        d = found.get(mid)
        if d is None or (d["archived"] and not include_archived) or (mtype and d["memory_type"] != mtype):
            continue
        d["score"] = round(score, 4)
        out.append(d)
        if len(out) >= limit:
            break
    return out


__all__ = [
    "MEMORY_TYPES",
    "check_type",
    "content_key_hash",
    "count_memories",
    "create_memory",
    "delete_memory",
    "embed_missing",
    "get_memory",
    "list_memories",
    "record_access",
    "resolve_id",
    "search_memories",
    "update_memory",
]
