"""Reads the API needs beyond the store's readers: conversation listing with time filters,
and deleting a conversation together with its units' full-text entries."""

from __future__ import annotations

import sqlite3
from typing import Any

from vivim.domain.stats import COUNTERS
from vivim.store.user import units as unit_store
from vivim.store.user.conversations import delete_conversation

_SUMMARY_COLUMNS = (
    "id, provider, source_id, source_url, title, model, version, created_at, updated_at, captured_at, "
    + ", ".join(COUNTERS)
)


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
    provider's ``created_at``, or ``captured_at`` when the provider gave none), as ISO
    strings comparable with the stored ones; ``before`` is the last (captured_at, id) seen."""
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
    sql = f"SELECT {_SUMMARY_COLUMNS} FROM conversations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY captured_at DESC, id DESC LIMIT ?"
    params.append(limit)
    cur = conn.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def delete_conversation_and_units(conn: sqlite3.Connection, conversation_id: str) -> bool:
    """Delete a conversation; its units go first so their full-text entries go with them
    (the contentless index cannot drop an entry without the text it indexed)."""
    unit_ids = sorted(unit_store.conversation_unit_ids(conn, conversation_id))
    if unit_ids:
        unit_store.delete_units(conn, unit_ids)
    return delete_conversation(conn, conversation_id)
