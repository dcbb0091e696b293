"""Read-only queries for what context is made of: facts, memories, instructions,
personas, topics, entities, recent conversations, and the fingerprint of all of them.

The memory and profile features own these tables and their writes; the context engine
only reads them, with small queries, so it works on any vault at the current schema.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vivim.domain.parts import message_text
from vivim.store.user.units import search_generation


@dataclass(slots=True)
class Row:
    """One piece of source material, whatever table it came from."""

    source: str
    id: str
    text: str
    kind: str | None = None
    importance: float = 0.0
    pinned: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def _loads(raw: str | None, default: Any) -> Any:
    try:
        value = json.loads(raw) if raw else default
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def facts(conn: sqlite3.Connection) -> list[Row]:
    rows = conn.execute(
        "SELECT id, category, content, importance, pinned, confidence, source_conversation_id, source_message_id"
        " FROM user_facts WHERE archived = 0"
        " ORDER BY pinned DESC, importance DESC, confidence DESC, updated_at DESC, id LIMIT 500"
    ).fetchall()
    return [
        Row(
            "fact",
            r[0],
            r[2],
            r[1],
            float(r[3]),
            bool(r[4]),
            {"confidence": r[5], "conversation_id": r[6], "message_id": r[7]},
        )
        for r in rows
    ]


def memories(conn: sqlite3.Connection) -> list[Row]:
    """Every memory not archived (the context engine filters by type per request)."""
    rows = conn.execute(
        "SELECT id, content, summary, memory_type, category, importance, pinned, embedding, embedding_model,"
        " source_conversation_id, source_message_id, source_unit_id, topics"
        " FROM memories WHERE archived = 0 ORDER BY pinned DESC, importance DESC, updated_at DESC, id"
    ).fetchall()
    out = []
    for r in rows:
        vector = np.frombuffer(r[7], dtype=np.float32) if r[7] else None
        out.append(
            Row(
                "memory",
                r[0],
                r[1],
                r[3],
                float(r[5]),
                bool(r[6]),
                {
                    "summary": r[2],
                    "category": r[4],
                    "vector": vector,
                    "embedding_model": r[8],
                    "conversation_id": r[9],
                    "message_id": r[10],
                    "unit_id": r[11],
                    "topics": _loads(r[12], []),
                },
            )
        )
    return out


def persona(conn: sqlite3.Connection, name: str | None, message: str) -> Row | None:
    """The named persona; else one whose trigger words occur in the message; else the
    default one. Names match case-insensitively."""
    cols = "id, name, description, system_prompt, trigger, is_default"
    if name:
        r = conn.execute(
            f"SELECT {cols} FROM ai_personas WHERE lower(name) = lower(?) OR id = ?", (name, name)
        ).fetchone()
        return _persona_row(r) if r else None
    rows = conn.execute(
        f"SELECT {cols} FROM ai_personas WHERE is_active = 1 ORDER BY is_default DESC, name"
    ).fetchall()
    low = message.lower()
    for r in rows:
        triggers = [t for t in _loads(r[4], []) if isinstance(t, str) and t.strip()]
        if any(t.lower() in low for t in triggers):
            return _persona_row(r)
    default = next((r for r in rows if r[5]), None)
    return _persona_row(default) if default else None


def _persona_row(r: tuple[Any, ...]) -> Row:
    return Row("persona", r[0], r[3], None, 10.0, True, {"name": r[1], "description": r[2]})


def instructions(conn: sqlite3.Connection, *, persona_id: str | None, topic_slugs: set[str]) -> list[Row]:
    rows = conn.execute(
        "SELECT id, content, scope, topic_tags, priority, persona_id, source FROM custom_instructions"
        " WHERE is_active = 1 ORDER BY priority DESC, updated_at DESC, id"
    ).fetchall()
    out = []
    for r in rows:
        scope, tags = r[2], {str(t).lower() for t in _loads(r[3], [])}
        if scope == "persona" and (persona_id is None or r[5] != persona_id):
            continue
        if scope == "topic" and not (tags & topic_slugs):
            continue
        if scope == "conversation":
            continue  # bound to one conversation's own session, not to new messages
        out.append(Row("instruction", r[0], r[1], scope, float(r[4]), False, {"source": r[6]}))
    return out


def topics(conn: sqlite3.Connection) -> list[Row]:
    rows = conn.execute(
        "SELECT id, slug, label, keyphrases, description, importance, conversation_count, message_count,"
        " first_engaged_at, last_engaged_at FROM topic_profiles ORDER BY importance DESC, id"
    ).fetchall()
    return [
        Row(
            "topic",
            r[0],
            r[4] or "",
            r[1],
            float(r[5]),
            False,
            {
                "slug": r[1],
                "label": r[2],
                "keyphrases": [k for k in _loads(r[3], []) if isinstance(k, str)],
                "conversation_count": r[6],
                "message_count": r[7],
                "first_engaged_at": r[8],
                "last_engaged_at": r[9],
            },
        )
        for r in rows
    ]


def conversation_topics(conn: sqlite3.Connection, conversation_id: str) -> dict[str, float]:
    return dict(
        conn.execute(
            "SELECT topic_id, relevance FROM topic_conversations WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchall()
    )


def entities(conn: sqlite3.Connection) -> list[Row]:
    rows = conn.execute(
        "SELECT id, name, normalized_name, entity_type, aliases, description, mention_count, conversation_count,"
        " importance, last_seen_at FROM entity_profiles ORDER BY importance DESC, mention_count DESC, id"
    ).fetchall()
    return [
        Row(
            "entity",
            r[0],
            r[5] or "",
            r[3],
            float(r[8]),
            False,
            {
                "name": r[1],
                "normalized_name": r[2],
                "aliases": [a for a in _loads(r[4], []) if isinstance(a, str)],
                "mention_count": r[6],
                "conversation_count": r[7],
                "last_seen_at": r[9],
            },
        )
        for r in rows
    ]


def recent_conversations(
    conn: sqlite3.Connection,
    *,
    limit: int,
    exclude_id: str | None,
    excluded_providers: set[str],
    excluded_ids: set[str],
) -> list[Row]:
    # By the conversation's own start (indexed): what the user was talking about lately.
    rows = conn.execute(
        "SELECT id, title, provider, COALESCE(created_at, captured_at), message_count"
        " FROM conversations ORDER BY created_at DESC LIMIT ?",
        (limit + len(excluded_ids) + 1 + 20,),
    ).fetchall()
    out = []
    for r in rows:
        if r[0] == exclude_id or r[0] in excluded_ids or r[2] in excluded_providers:
            continue
        out.append(
            Row(
                "conversation", r[0], r[1] or "(untitled)", r[2], 0.0, False, {"when": r[3], "messages": r[4]}
            )
        )
        if len(out) >= limit:
            break
    return out


@dataclass(slots=True)
class Turn:
    id: str
    source_id: str
    index: int
    role: str
    author: str | None
    text: str
    """Everything the message says, code included."""
    prose: str
    """The message without its code blocks (what summaries are made of)."""
    code: list[dict[str, Any]]


def conversation_turns(conn: sqlite3.Connection, conversation_id: str) -> list[Turn]:
    """The conversation's messages on its current branch, in order, as plain text."""
    rows = conn.execute(
        "SELECT id, source_id, message_index, role, author, parts FROM messages"
        " WHERE conversation_id = ? AND on_current_path = 1 AND hidden = 0 ORDER BY message_index",
        (conversation_id,),
    ).fetchall()
    out = []
    for r in rows:
        # A malformed part (not an object) is left out rather than failing the bundle.
        parts = [p for p in _loads(r[5], []) if isinstance(p, dict)]
        code = [p for p in parts if p.get("type") == "code"]
        prose = message_text([p for p in parts if p.get("type") != "code"])
        out.append(Turn(r[0], r[1], r[2], r[3], r[4], message_text(parts), prose, code))
    return out


# What each fingerprint part reads: a change to any row it covers changes the aggregate
# (count, latest update, and sums over the columns an edit can change without touching
# ``updated_at`` when written by hand).
_FINGERPRINT_QUERIES = (
    "SELECT count(*), max(updated_at), total(importance), total(pinned), total(archived), total(length(content))"
    " FROM memories",
    "SELECT count(*), max(updated_at), total(importance), total(pinned), total(archived), total(length(content))"
    " FROM user_facts",
    "SELECT count(*), max(updated_at), total(priority), total(is_active), total(length(content))"
    " FROM custom_instructions",
    "SELECT count(*), max(updated_at), total(is_active), total(is_default), total(length(system_prompt))"
    " FROM ai_personas",
    "SELECT count(*), max(updated_at), total(is_dirty), total(importance) FROM topic_profiles",
    "SELECT count(*), total(relevance) FROM topic_conversations",
    "SELECT count(*), max(updated_at), total(is_dirty), total(importance) FROM entity_profiles",
    "SELECT count(*), max(captured_at), total(version) FROM conversations",
    "SELECT max(updated_at) FROM user_context_settings",
)


_PART_NAMES = (
    "memories",
    "facts",
    "instructions",
    "personas",
    "topics",
    "topic_links",
    "entities",
    "conversations",
    "settings",
)


@dataclass(frozen=True)
class Snapshot:
    """The state of everything a bundle reads: ``digest`` changes whenever any of it
    does; ``parts`` per table, so in-memory caches of one table outlive changes to another."""

    digest: str
    parts: dict[str, str]


def snapshot(conn: sqlite3.Connection, *, conversation_id: str | None = None) -> Snapshot:
    """Aggregates over every source table (a few milliseconds on a large vault); see
    ``cached_snapshot`` for the shortcut when nothing was written since."""
    parts = {
        n: repr(conn.execute(q).fetchone()) for n, q in zip(_PART_NAMES, _FINGERPRINT_QUERIES, strict=True)
    }
    parts["search"] = search_generation(conn)
    if conversation_id:
        r = conn.execute(
            "SELECT version, content_hash FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        parts["conversation"] = repr(r)
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(parts):
        h.update(f"{k}={parts[k]}\x00".encode())
    return Snapshot(h.hexdigest(), parts)


def cached_snapshot(
    conn: sqlite3.Connection, memo: dict[str, Any], *, conversation_id: str | None = None
) -> Snapshot:
    """``snapshot``, reused while the database is provably unchanged: ``PRAGMA
    data_version`` moves when another connection commits, ``total_changes`` when this one
    writes, so equal values on both mean no row anywhere has changed."""
    key = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes, conversation_id)
    hit = memo.get("context.snapshot")
    if hit is not None and hit[0] == key:
        return hit[1]
    snap = snapshot(conn, conversation_id=conversation_id)
    memo["context.snapshot"] = (key, snap)
    return snap


def note_own_write(conn: sqlite3.Connection, memo: dict[str, Any]) -> None:
    """After writing only what no snapshot covers (cached bundles, compactions), keep the
    remembered snapshot valid, unless someone else has committed meanwhile."""
    hit = memo.get("context.snapshot")
    if hit is None:
        return
    (version, _changes, conversation_id), snap = hit
    if conn.execute("PRAGMA data_version").fetchone()[0] == version:
        memo["context.snapshot"] = ((version, conn.total_changes, conversation_id), snap)
