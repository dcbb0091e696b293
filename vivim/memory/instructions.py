"""Custom instructions and AI personas.

Public functions (ids may be a full id or an unambiguous prefix of >= 6 characters;
personas may also be named):

- ``add_instruction(store, content, scope=, topic_tags=, priority=, active=, persona=)``,
  ``list_instructions(store, active=None, scope=None)``, ``get_instruction``,
  ``update_instruction``, ``delete_instruction``
- ``land_export_instructions(store)`` -> int: custom instructions found in stored ChatGPT
  conversations (hidden ``user_editable_context`` messages: "about me" and "how to respond")
  become CustomInstruction rows (scope global, source ``chatgpt_export``) if not there yet.
  The importer already does this for new imports; this covers vaults imported before, and
  instructions the user deleted by hand come back only through this call.
- ``add_persona(store, name, system_prompt, description=, triggers=, active=, default=)``,
  ``list_personas``, ``get_persona(store, name_or_id)``, ``update_persona``,
  ``delete_persona``. At most one persona is the default.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from vivim.domain.canonical import content_hash
from vivim.domain.errors import AlreadyExists, InvalidInput, NotFound
from vivim.domain.ids import derived_id, new_id
from vivim.domain.times import to_iso, utcnow
from vivim.memory.memories import resolve_id
from vivim.store.user.db import UserStore

SCOPES = ("global", "topic", "conversation", "persona")
MAX_INSTRUCTION_CHARS = 8000
MAX_PROMPT_CHARS = 20_000
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_I_COLUMNS = (
    "id, content, content_hash, scope, topic_tags, priority, is_active, source, source_conversation_id,"
    " persona_id, created_at, updated_at"
)
_P_COLUMNS = "id, name, description, system_prompt, trigger, is_active, is_default, created_at, updated_at, metadata"


def _text(value: str | None, what: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is at most {limit} characters (this one is {len(text)})")
    return text


def _scope(scope: str) -> str:
    value = scope.strip().lower()
    if value not in SCOPES:
        raise InvalidInput(f"{scope!r} is not a scope; use one of {', '.join(SCOPES)}")
    return value


def _tags(tags: Sequence[str]) -> list[str]:
    out = []
    for t in tags:
        t = str(t).strip().lower()
        if t and t not in out:
            out.append(t)
    return out


# --- instructions ------------------------------------------------------------------------------
def _instruction(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d["topic_tags"] = json.loads(d["topic_tags"] or "[]")
    d["is_active"] = bool(d["is_active"])
    return d


def _get_instruction(conn: sqlite3.Connection, iid: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {_I_COLUMNS} FROM custom_instructions WHERE id = ?", (iid,))
    return _instruction(cur, cur.fetchone())


def add_instruction(
    store: UserStore,
    content: str,
    *,
    scope: str = "global",
    topic_tags: Sequence[str] = (),
    priority: int = 0,
    active: bool = True,
    persona: str | None = None,
) -> dict[str, Any]:
    text = _text(content, "an instruction", MAX_INSTRUCTION_CHARS)
    scope = _scope(scope)
    tags = _tags(topic_tags)
    if scope == "topic" and not tags:
        raise InvalidInput("a topic-scoped instruction needs at least one topic tag")
    now = to_iso(utcnow())
    with store.transaction() as conn:
        persona_id = _persona_id(conn, persona) if persona else None
        if scope == "persona" and persona_id is None:
            raise InvalidInput("a persona-scoped instruction needs --persona")
        digest = content_hash(text)
        clash = conn.execute(
            "SELECT id FROM custom_instructions WHERE scope = ? AND content_hash = ?", (scope, digest)
        ).fetchone()
        if clash:
            raise AlreadyExists(f"this instruction already exists ({clash[0]})")
        iid = new_id()
        conn.execute(
            f"INSERT INTO custom_instructions ({_I_COLUMNS}) VALUES (?,?,?,?,?,?,?,'user',NULL,?,?,?)",
            (iid, text, digest, scope, _dumps(tags), int(priority), int(active), persona_id, now, now),
        )
        return _get_instruction(conn, iid)


def list_instructions(
    store: UserStore, *, active: bool | None = None, scope: str | None = None
) -> list[dict[str, Any]]:
    where, params = [], []
    if active is not None:
        where.append("is_active = ?")
        params.append(int(active))
    if scope:
        where.append("scope = ?")
        params.append(_scope(scope))
    sql = f"SELECT {_I_COLUMNS} FROM custom_instructions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY priority DESC, created_at, id"
    with store.read() as conn:
        cur = conn.execute(sql, params)
        return [_instruction(cur, r) for r in cur.fetchall()]


def get_instruction(store: UserStore, instruction_id: str) -> dict[str, Any]:
    with store.read() as conn:
        return _get_instruction(conn, resolve_id(conn, "custom_instructions", instruction_id, "instruction"))


def update_instruction(
    store: UserStore,
    instruction_id: str,
    *,
    content: str | None = None,
    scope: str | None = None,
    topic_tags: Sequence[str] | None = None,
    priority: int | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    sets: list[str] = []
    params: list[Any] = []
    if content is not None:
        text = _text(content, "an instruction", MAX_INSTRUCTION_CHARS)
        sets += ["content = ?", "content_hash = ?"]
        params += [text, content_hash(text)]
    if scope is not None:
        sets.append("scope = ?")
        params.append(_scope(scope))
    if topic_tags is not None:
        sets.append("topic_tags = ?")
        params.append(_dumps(_tags(topic_tags)))
    if priority is not None:
        sets.append("priority = ?")
        params.append(int(priority))
    if active is not None:
        sets.append("is_active = ?")
        params.append(int(active))
    with store.transaction() as conn:
        iid = resolve_id(conn, "custom_instructions", instruction_id, "instruction")
        if sets:
            sets.append("updated_at = ?")
            params.append(to_iso(utcnow()))
            try:
                conn.execute(f"UPDATE custom_instructions SET {', '.join(sets)} WHERE id = ?", [*params, iid])
            except sqlite3.IntegrityError:
                raise AlreadyExists("another instruction with this scope already says this") from None
        return _get_instruction(conn, iid)


def delete_instruction(store: UserStore, instruction_id: str) -> str:
    with store.transaction() as conn:
        iid = resolve_id(conn, "custom_instructions", instruction_id, "instruction")
        conn.execute("DELETE FROM custom_instructions WHERE id = ?", (iid,))
    return iid


def land_export_instructions(store: UserStore, conversation_ids: Sequence[str] | None = None) -> int:
    """Custom instructions found in stored conversations (all, or only these) ->
    custom_instructions; returns how many were added. Ids and hashes match the importer's,
    so nothing is doubled."""
    sql = (
        "SELECT m.conversation_id, m.parts, c.provider FROM messages m JOIN conversations c"
        " ON c.id = m.conversation_id WHERE m.role = 'system'"
        " AND json_extract(m.metadata, '$.content_type') = 'user_editable_context'"
    )
    rows: list[tuple[str, str, str]] = []
    with store.read() as conn:
        if conversation_ids is None:
            rows = conn.execute(sql + " ORDER BY c.captured_at, m.conversation_id, m.message_index").fetchall()
        else:
            ids = list(conversation_ids)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows += conn.execute(
                    sql + f" AND m.conversation_id IN ({','.join('?' * len(chunk))})"
                    " ORDER BY c.captured_at, m.conversation_id, m.message_index",
                    chunk,
                ).fetchall()
    found: list[tuple[str, str, str]] = []
    for conversation_id, parts_json, provider in rows:
        try:
            parts = json.loads(parts_json)
        except ValueError:
            continue
        for p in parts:
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) and p["text"].strip():
                found.append((p["text"], conversation_id, provider))
    if not found:
        return 0
    now = to_iso(utcnow())
    added = 0
    with store.transaction() as conn:
        for text, conversation_id, provider in found:
            digest = content_hash(text)
            added += conn.execute(
                "INSERT OR IGNORE INTO custom_instructions (id, content, content_hash, scope, source,"
                " source_conversation_id, created_at, updated_at) VALUES (?,?,?,'global',?,?,?,?)",
                (derived_id("instruction", digest), text, digest, f"{provider}_export", conversation_id, now, now),
            ).rowcount
    return added


# --- personas ----------------------------------------------------------------------------------
def _persona(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d["triggers"] = json.loads(d.pop("trigger") or "[]")
    d["metadata"] = json.loads(d["metadata"] or "{}")
    d["is_active"] = bool(d["is_active"])
    d["is_default"] = bool(d["is_default"])
    return d


def _persona_id(conn: sqlite3.Connection, ref: str) -> str:
    row = conn.execute("SELECT id FROM ai_personas WHERE lower(name) = lower(?)", (ref.strip(),)).fetchone()
    if row:
        return row[0]
    try:
        return resolve_id(conn, "ai_personas", ref, "persona")
    except NotFound:
        raise NotFound(f"no persona {ref[:60]!r}; `vivim personas list` shows them") from None


def _get_persona(conn: sqlite3.Connection, pid: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {_P_COLUMNS} FROM ai_personas WHERE id = ?", (pid,))
    return _persona(cur, cur.fetchone())


def _check_name(name: str) -> str:
    text = _text(name, "a persona name", 80)
    if "\n" in text:
        raise InvalidInput("a persona name is one line")
    return text


def add_persona(
    store: UserStore,
    name: str,
    system_prompt: str,
    *,
    description: str | None = None,
    triggers: Sequence[str] = (),
    active: bool = True,
    default: bool = False,
) -> dict[str, Any]:
    name = _check_name(name)
    prompt = _text(system_prompt, "a system prompt", MAX_PROMPT_CHARS)
    now = to_iso(utcnow())
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM ai_personas WHERE lower(name) = lower(?)", (name,)).fetchone():
            raise AlreadyExists(f"a persona named {name!r} already exists")
        if default:
            conn.execute("UPDATE ai_personas SET is_default = 0 WHERE is_default = 1")
        pid = new_id()
        conn.execute(
            f"INSERT INTO ai_personas ({_P_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,'{{}}')",
            (pid, name, description, prompt, _dumps(_tags(triggers)), int(active), int(default), now, now),
        )
        return _get_persona(conn, pid)


def list_personas(store: UserStore, *, active: bool | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {_P_COLUMNS} FROM ai_personas"
    params: list[Any] = []
    if active is not None:
        sql += " WHERE is_active = ?"
        params.append(int(active))
    with store.read() as conn:
        cur = conn.execute(sql + " ORDER BY is_default DESC, name", params)
        return [_persona(cur, r) for r in cur.fetchall()]


def get_persona(store: UserStore, persona: str) -> dict[str, Any]:
    with store.read() as conn:
        return _get_persona(conn, _persona_id(conn, persona))


def update_persona(
    store: UserStore,
    persona: str,
    *,
    name: str | None = None,
    system_prompt: str | None = None,
    description: str | None = None,
    triggers: Sequence[str] | None = None,
    active: bool | None = None,
    default: bool | None = None,
) -> dict[str, Any]:
    sets: list[str] = []
    params: list[Any] = []
    if system_prompt is not None:
        sets.append("system_prompt = ?")
        params.append(_text(system_prompt, "a system prompt", MAX_PROMPT_CHARS))
    if description is not None:
        sets.append("description = ?")
        params.append(description.strip() or None)
    if triggers is not None:
        sets.append("trigger = ?")
        params.append(_dumps(_tags(triggers)))
    if active is not None:
        sets.append("is_active = ?")
        params.append(int(active))
    with store.transaction() as conn:
        pid = _persona_id(conn, persona)
        if name is not None:
            new_name = _check_name(name)
            clash = conn.execute(
                "SELECT id FROM ai_personas WHERE lower(name) = lower(?) AND id != ?", (new_name, pid)
            ).fetchone()
            if clash:
                raise AlreadyExists(f"a persona named {new_name!r} already exists")
            sets.append("name = ?")
            params.append(new_name)
        if default is not None:
            if default:
                conn.execute("UPDATE ai_personas SET is_default = 0 WHERE is_default = 1 AND id != ?", (pid,))
            sets.append("is_default = ?")
            params.append(int(default))
        if sets:
            sets.append("updated_at = ?")
            params.append(to_iso(utcnow()))
            conn.execute(f"UPDATE ai_personas SET {', '.join(sets)} WHERE id = ?", [*params, pid])
        return _get_persona(conn, pid)


def delete_persona(store: UserStore, persona: str) -> str:
    """Delete a persona and the instructions scoped to it."""
    with store.transaction() as conn:
        pid = _persona_id(conn, persona)
        conn.execute("DELETE FROM ai_personas WHERE id = ?", (pid,))
    return pid


__all__ = [
    "SCOPES",
    "add_instruction",
    "add_persona",
    "delete_instruction",
    "delete_persona",
    "get_instruction",
    "get_persona",
    "land_export_instructions",
    "list_instructions",
    "list_personas",
    "update_instruction",
    "update_persona",
]
