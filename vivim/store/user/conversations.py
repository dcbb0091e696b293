"""Conversations and messages in a user DB: the rows, and how a capture is saved.

Saving is idempotent and versioned: an unchanged conversation is left alone, a grown one
gets only its new messages, a changed message bumps its own ``version``, and every change
bumps the conversation's ``version``. Messages the new input lacks are kept (an export can
be partial); nothing a user captured is deleted by a re-import.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from vivim.domain.parts import message_text
from vivim.domain.stats import COUNTERS, count_message
from vivim.store.user import oplog


class MessageRow(NamedTuple):
    """One message row, its fields in the order of :data:`_INSERT_MESSAGE`'s parameters
    (``text`` excepted), so that ``row[:INSERT_FIELDS]`` is the statement's parameters.

    A tuple rather than a class: imports build, pickle (between the parser process and
    the writer) and insert hundreds of thousands of them per second, and a tuple does all
    three in C."""

    id: str
    conversation_id: str
    source_id: str
    parent_id: str | None
    role: str
    author: str | None
    parts_json: str
    content_hash: str
    created_at: str | None
    message_index: int
    status: str
    finish_reason: str | None
    model: str | None
    hidden: int
    on_current_path: int
    metadata_json: str
    token_count: int
    text: str
    """The message's readable text (what its tokens, words and characters count)."""


@dataclass(slots=True)
class ConversationRows:
    id: str
    provider: str
    source_id: str
    source_url: str | None
    title: str
    model: str | None
    created_at: str | None
    updated_at: str | None
    metadata_json: str
    messages: list[MessageRow]
    counters: dict[str, int]
    content_hash: str
    custom_instructions: list[str]

    def __reduce__(self) -> tuple[Any, ...]:
        # Imports pickle these between processes: messages go as plain tuples, which pickle
        # and unpickle entirely in C, and are turned back into rows with one C call each.
        return (
            _conversation_rows,
            (
                self.id,
                self.provider,
                self.source_id,
                self.source_url,
                self.title,
                self.model,
                self.created_at,
                self.updated_at,
                self.metadata_json,
                list(map(tuple, self.messages)),
                self.counters,
                self.content_hash,
                self.custom_instructions,
            ),
        )


_message_row = partial(tuple.__new__, MessageRow)


def _conversation_rows(*fields: Any) -> ConversationRows:
    rows = ConversationRows(*fields)
    rows.messages = list(map(_message_row, rows.messages))
    return rows


@dataclass(slots=True)
class SaveResult:
    conversation_id: str
    status: str
    """``created``, ``updated`` or ``unchanged``."""
    version: int
    new_messages: int = 0
    changed_messages: int = 0


_INSERT_MESSAGE = (
    "INSERT INTO messages (id, conversation_id, source_id, parent_id, role, author, parts, content_hash,"
    " version, created_at, message_index, status, finish_reason, model, hidden, on_current_path, metadata,"
    " token_count) VALUES (?,?,?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?)"
)
INSERT_FIELDS = 17
"""How many leading fields of a :class:`MessageRow` :data:`_INSERT_MESSAGE` takes."""


def find_conversation_state(conn: sqlite3.Connection, conv_id: str) -> tuple[str | None, int] | None:
    row = conn.execute("SELECT content_hash, version FROM conversations WHERE id = ?", (conv_id,)).fetchone()
    return (row[0], row[1]) if row else None


def save_conversation(conn: sqlite3.Connection, rows: ConversationRows, *, captured_at: str) -> SaveResult:
    """Write one conversation; the caller holds the transaction (all or nothing)."""
    state = find_conversation_state(conn, rows.id)
    if state is None:
        _insert_conversation(conn, rows, captured_at)
        conn.executemany(_INSERT_MESSAGE, [m[:INSERT_FIELDS] for m in rows.messages])
        return SaveResult(rows.id, "created", 1, new_messages=len(rows.messages))
    old_hash, old_version = state
    if old_hash == rows.content_hash:
        return SaveResult(rows.id, "unchanged", old_version)
    return _update(conn, rows, old_version, captured_at)


_INSERT_CONVERSATION = (
    "INSERT INTO conversations (id, provider, source_id, source_url, content_hash, version, title,"
    " model, created_at, updated_at, captured_at, " + ", ".join(COUNTERS) + ", metadata)"
    " VALUES (?,?,?,?,?,1,?,?,?,?,?," + ",".join("?" * len(COUNTERS)) + ",?)"
)


def find_conversation_states(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[str | None, int]]:
    out: dict[str, tuple[str | None, int]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = f"SELECT id, content_hash, version FROM conversations WHERE id IN ({','.join('?' * len(chunk))})"
        out.update((r[0], (r[1], r[2])) for r in conn.execute(q, chunk))
    return out


def insert_new_conversations(
    conn: sqlite3.Connection, batch: list[ConversationRows], *, captured_at: str
) -> None:
    """Insert conversations known not to exist yet, in two statements for the whole batch.

    The fast path of a first import; the caller runs it in a transaction of its own and, if
    it fails, rolls that back and stores the batch one by one with :func:`save_conversation`,
    so one bad row cannot cost the batch.
    """
    messages = [m[:INSERT_FIELDS] for r in batch for m in r.messages]
    with oplog.bulk_inserts(conn, "conversations", "messages"):
        conn.executemany(_INSERT_CONVERSATION, [_conversation_tuple(r, captured_at) for r in batch])
        conn.executemany(_INSERT_MESSAGE, messages)


def _conversation_tuple(rows: ConversationRows, captured_at: str) -> tuple[Any, ...]:
    c = rows.counters
    return (
        rows.id,
        rows.provider,
        rows.source_id,
        rows.source_url,
        rows.content_hash,
        rows.title,
        rows.model,
        rows.created_at,
        rows.updated_at,
        captured_at,
        *(c[k] for k in COUNTERS),
        rows.metadata_json,
    )


def _insert_conversation(conn: sqlite3.Connection, rows: ConversationRows, captured_at: str) -> None:
    conn.execute(_INSERT_CONVERSATION, _conversation_tuple(rows, captured_at))


def _update(
    conn: sqlite3.Connection, rows: ConversationRows, old_version: int, captured_at: str
) -> SaveResult:
    existing = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT source_id, id, content_hash, version, message_index, parent_id, on_current_path, hidden"
            " FROM messages WHERE conversation_id = ?",
            (rows.id,),
        )
    }
    new: list[MessageRow] = []
    changed: list[tuple[Any, ...]] = []
    moved: list[tuple[Any, ...]] = []
    for m in rows.messages:
        old = existing.pop(m.source_id, None)
        if old is None:
            new.append(m)
            continue
        _id, old_hash, version, index, parent, on_path, hidden = old
        if old_hash != m.content_hash:
            changed.append(
                (
                    m.role,
                    m.author,
                    m.parts_json,
                    m.content_hash,
                    version + 1,
                    m.created_at,
                    m.message_index,
                    m.status,
                    m.finish_reason,
                    m.token_count,
                    m.model,
                    m.hidden,
                    m.on_current_path,
                    m.metadata_json,
                    m.parent_id,
                    m.id,
                )
            )
        elif (index, parent, on_path, hidden) != (m.message_index, m.parent_id, m.on_current_path, m.hidden):
            moved.append((m.message_index, m.parent_id, m.on_current_path, m.hidden, m.id))
    counters = dict(rows.counters)
    if existing:
        # Messages we hold that this input lacks stay; keep them after the new order and
        # keep counting them.
        next_index = len(rows.messages)
        for source_id, (mid, *_rest) in sorted(existing.items(), key=lambda kv: kv[1][3]):
            moved.append((next_index, _rest[3], _rest[4], _rest[5], mid))
            next_index += 1
            _add_counters(conn, mid, counters)
            del source_id
    conn.executemany(_INSERT_MESSAGE, [m[:INSERT_FIELDS] for m in new])
    conn.executemany(
        "UPDATE messages SET role=?, author=?, parts=?, content_hash=?, version=?, created_at=?,"
        " message_index=?, status=?, finish_reason=?, token_count=?, model=?, hidden=?, on_current_path=?,"
        " metadata=?, parent_id=? WHERE id=?",
        changed,
    )
    conn.executemany(
        "UPDATE messages SET message_index=?, parent_id=?, on_current_path=?, hidden=? WHERE id=?", moved
    )
    version = old_version + 1
    conn.execute(
        "UPDATE conversations SET source_url=?, content_hash=?, version=?, title=?, model=?, created_at=?,"
        " updated_at=?, captured_at=?, metadata=?, " + ", ".join(f"{k}=?" for k in COUNTERS) + " WHERE id=?",
        (
            rows.source_url,
            rows.content_hash,
            version,
            rows.title,
            rows.model,
            rows.created_at,
            rows.updated_at,
            captured_at,
            rows.metadata_json,
            *(counters[k] for k in COUNTERS),
            rows.id,
        ),
    )
    return SaveResult(rows.id, "updated", version, new_messages=len(new), changed_messages=len(changed))


def _add_counters(conn: sqlite3.Connection, message_id: str, counters: dict[str, int]) -> None:
    role, parts_json, tokens = conn.execute(
        "SELECT role, parts, token_count FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    parts = json.loads(parts_json)
    count_message(counters, role=role, text=message_text(parts), tokens=tokens or 0, parts=parts)


# -- reading -----------------------------------------------------------------------------
_CONVERSATION_COLUMNS = (
    "id, provider, source_id, source_url, content_hash, version, title, model, created_at, updated_at,"
    " captured_at, " + ", ".join(COUNTERS) + ", metadata"
)
_MESSAGE_COLUMNS = (
    "id, conversation_id, source_id, parent_id, role, author, parts, content_hash, version, created_at,"
    " message_index, status, finish_reason, token_count, model, hidden, on_current_path, metadata"
)


def _conversation_dict(row: sqlite3.Row | tuple[Any, ...], cursor: sqlite3.Cursor) -> dict[str, Any]:
    d = {col[0]: value for col, value in zip(cursor.description, row, strict=True)}
    d["metadata"] = json.loads(d["metadata"] or "{}")
    return d


def list_conversations(
    conn: sqlite3.Connection,
    *,
    provider: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    before: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Newest captured first. ``since``/``until`` bound the conversation's own time (the
    provider's ``created_at``, else ``captured_at``) as comparable ISO strings; ``before``
    is the (captured_at, id) of the last row seen: keyset pagination, fast at any depth."""
    where: list[str] = []
    params: list[Any] = []
    if provider:
        where.append("provider = ?")
        params.append(provider)
    if since:
        where.append("COALESCE(created_at, captured_at) >= ?")
        params.append(since)
    if until:
        where.append("COALESCE(created_at, captured_at) < ?")
        params.append(until)
    if before:
        where.append("(captured_at, id) < (?, ?)")
        params.extend(before)
    sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY captured_at DESC, id DESC LIMIT ?"
    params.append(limit)
    cur = conn.execute(sql, params)
    return [_conversation_dict(r, cur) for r in cur.fetchall()]


def get_conversation(conn: sqlite3.Connection, conversation_id: str) -> dict[str, Any] | None:
    cur = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
    row = cur.fetchone()
    return _conversation_dict(row, cur) if row else None


def find_conversation_id(conn: sqlite3.Connection, ref: str) -> str | None:
    """Resolve a conversation reference: vivim id, an unambiguous id prefix (>= 6 chars),
    or the provider's own id."""
    row = conn.execute("SELECT id FROM conversations WHERE id = ?", (ref,)).fetchone()
    if row:
        return row[0]
    rows = conn.execute("SELECT id FROM conversations WHERE source_id = ? LIMIT 2", (ref,)).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref):
        rows = conn.execute(
            "SELECT id FROM conversations WHERE id >= ? AND id < ? LIMIT 2", (ref, ref + "g")
        ).fetchall()
        if len(rows) == 1:
            return rows[0][0]
    return None


def get_messages(conn: sqlite3.Connection, conversation_id: str) -> list[dict[str, Any]]:
    cur = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY message_index",
        (conversation_id,),
    )
    out = []
    for row in cur.fetchall():
        d = {col[0]: value for col, value in zip(cur.description, row, strict=True)}
        d["parts"] = json.loads(d["parts"])
        d["metadata"] = json.loads(d["metadata"] or "{}")
        d["hidden"] = bool(d["hidden"])
        d["on_current_path"] = bool(d["on_current_path"])
        out.append(d)
    return out


def delete_conversation(conn: sqlite3.Connection, conversation_id: str) -> bool:
    """Delete a conversation, its messages and its units. The units go first, explicitly:
    the contentless full-text index cannot drop an entry without the text it indexed, so a
    cascade alone would leave their entries behind."""
    from vivim.store.user import units as unit_store

    unit_ids = sorted(unit_store.conversation_unit_ids(conn, conversation_id))
    if unit_ids:
        unit_store.delete_units(conn, unit_ids)
        unit_store.bump_search_generation(conn)
    return conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0


def count_conversations(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT provider, COUNT(*) FROM conversations GROUP BY provider").fetchall())
