"""User facts: short, stable statements about the user (name, location, job, family).

Facts are what the context engine puts first ("identity and user facts"). The extractor adds
one for every identity or relationship statement it finds (confidence 0.8, traceable to
the message); users add, edit, pin, archive and delete their own (confidence 1.0).

Public functions (``fact_id`` may be a full id or an unambiguous prefix of >= 6 chars):

- ``add_fact(store, content, category=, importance=, pinned=, confidence=)`` -> dict; a fact
  that normalises to an existing one is merged into it (``merged`` True)
- ``get_fact(store, fact_id)``, ``list_facts(store, category=, archived=False, limit=)``
- ``update_fact(store, fact_id, content=, category=, importance=, pinned=, archived=, confidence=)``
- ``delete_fact(store, fact_id)``
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from vivim.domain.errors import InvalidInput
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso, utcnow
from vivim.memory.memories import assignments, check_importance, content_key_hash, resolve_id
from vivim.store.user.db import UserStore

MAX_FACT_CHARS = 1000
_COLUMNS = (
    "id, category, content, content_hash, confidence, importance, pinned, archived, source_conversation_id,"
    " source_message_id, created_at, updated_at, metadata"
)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _row(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d["metadata"] = json.loads(d["metadata"] or "{}")
    d["pinned"] = bool(d["pinned"])
    d["archived"] = bool(d["archived"])
    return d


def _check(content: str) -> str:
    text = content.strip() if isinstance(content, str) else ""
    if not text:
        raise InvalidInput("a fact needs some content")
    if len(text) > MAX_FACT_CHARS:
        raise InvalidInput(f"a fact is at most {MAX_FACT_CHARS} characters (this one is {len(text)})")
    return text


def _confidence(value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidInput(f"confidence is a number from 0 to 1, not {value!r}")
    return float(value)


def _get(conn: sqlite3.Connection, fact_id: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {_COLUMNS} FROM user_facts WHERE id = ?", (fact_id,))
    return _row(cur, cur.fetchone())


def upsert_fact(
    conn: sqlite3.Connection,
    content: str,
    *,
    category: str = "general",
    importance: int = 5,
    pinned: bool = False,
    confidence: float = 1.0,
    digest: str | None = None,
    source_conversation_id: str | None = None,
    source_message_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """Insert a fact or merge it into the one with the same key, inside the caller's
    transaction. Returns (id, created)."""
    digest = digest or content_key_hash(content)
    now = to_iso(utcnow())
    row = conn.execute("SELECT id FROM user_facts WHERE content_hash = ?", (digest,)).fetchone()
    if row:
        conn.execute(
            "UPDATE user_facts SET importance = max(importance, ?), confidence = max(confidence, ?),"
            " pinned = max(pinned, ?), updated_at = ? WHERE id = ?",
            (importance, confidence, int(pinned), now, row[0]),
        )
        return row[0], False
    fact_id = new_id()
    conn.execute(
        f"INSERT INTO user_facts ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,0,?,?,?,?,?)",
        (
            fact_id,
            category or "general",
            content,
            digest,
            confidence,
            importance,
            int(pinned),
            source_conversation_id,
            source_message_id,
            now,
            now,
            _dumps(metadata or {}),
        ),
    )
    return fact_id, True


def add_fact(
    store: UserStore,
    content: str,
    *,
    category: str = "general",
    importance: int = 7,
    pinned: bool = False,
    confidence: float = 1.0,
) -> dict[str, Any]:
    text = _check(content)
    check_importance(importance)
    with store.transaction() as conn:
        fact_id, created = upsert_fact(
            conn,
            text,
            category=category,
            importance=importance,
            pinned=pinned,
            confidence=_confidence(confidence),
            metadata={"origin": "user"},
        )
        fact = _get(conn, fact_id)
    fact["merged"] = not created
    return fact


def get_fact(store: UserStore, fact_id: str) -> dict[str, Any]:
    with store.read() as conn:
        return _get(conn, resolve_id(conn, "user_facts", fact_id, "fact"))


def list_facts(
    store: UserStore, *, category: str | None = None, archived: bool | None = False, limit: int = 100
) -> list[dict[str, Any]]:
    where, params = [], []
    if category:
        where.append("category = ?")
        params.append(category)
    if archived is not None:
        where.append("archived = ?")
        params.append(int(archived))
    sql = f"SELECT {_COLUMNS} FROM user_facts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY pinned DESC, importance DESC, confidence DESC, created_at, id LIMIT ?"
    params.append(max(1, limit))
    with store.read() as conn:
        cur = conn.execute(sql, params)
        return [_row(cur, r) for r in cur.fetchall()]


def update_fact(
    store: UserStore,
    fact_id: str,
    *,
    content: str | None = None,
    category: str | None = None,
    importance: int | None = None,
    pinned: bool | None = None,
    archived: bool | None = None,
    confidence: float | None = None,
) -> dict[str, Any]:
    sets, params = assignments(
        category=None if category is None else category or "general",
        importance=None if importance is None else check_importance(importance),
        pinned=None if pinned is None else int(pinned),
        archived=None if archived is None else int(archived),
        confidence=None if confidence is None else _confidence(confidence),
    )
    with store.transaction() as conn:
        fid = resolve_id(conn, "user_facts", fact_id, "fact")
        if content is not None:
            text = _check(content)
            digest = content_key_hash(text)
            clash = conn.execute(
                "SELECT id FROM user_facts WHERE content_hash = ? AND id != ?", (digest, fid)
            ).fetchone()
            if clash:
                raise InvalidInput(f"another fact ({clash[0]}) already says this")
            sets += ["content = ?", "content_hash = ?"]
            params += [text, digest]
        if sets:
            sets.append("updated_at = ?")
            params.append(to_iso(utcnow()))
            conn.execute(f"UPDATE user_facts SET {', '.join(sets)} WHERE id = ?", [*params, fid])
        return _get(conn, fid)


def delete_fact(store: UserStore, fact_id: str) -> str:
    with store.transaction() as conn:
        fid = resolve_id(conn, "user_facts", fact_id, "fact")
        conn.execute("DELETE FROM user_facts WHERE id = ?", (fid,))
    return fid


__all__ = ["add_fact", "delete_fact", "get_fact", "list_facts", "update_fact", "upsert_fact"]
