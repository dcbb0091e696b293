"""Exporting a vault's conversations back out, in vivim's own ``vivim.conversations/v1``
format: what was stored comes back as the parsed values it was stored from, so importing
an export elsewhere reproduces the same conversations, messages and hashes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from vivim.domain.conversation import ParsedConversation, ParsedMessage
from vivim.domain.times import parse_time
from vivim.store.user.conversations import get_messages, list_conversations


def stored_conversations(
    conn: sqlite3.Connection, *, provider: str | None = None
) -> Iterator[ParsedConversation]:
    """Every stored conversation (oldest captured first is not promised; newest first)."""
    before: tuple[str, str] | None = None
    while True:
        page = list_conversations(conn, provider=provider, limit=500, before=before)
        if not page:
            return
        for conv in page:
            yield _parsed(conn, conv)
        before = (page[-1]["captured_at"], page[-1]["id"])


def _parsed(conn: sqlite3.Connection, conv: dict) -> ParsedConversation:
    rows = get_messages(conn, conv["id"])
    source_of = {m["id"]: m["source_id"] for m in rows}
    instructions = [
        r[0]
        for r in conn.execute(
            "SELECT content FROM custom_instructions WHERE source_conversation_id = ? ORDER BY created_at, id",
            (conv["id"],),
        )
    ]
    return ParsedConversation(
        provider=conv["provider"],
        source_id=conv["source_id"],
        title=conv["title"],
        model=conv["model"],
        source_url=conv["source_url"],
        created_at=parse_time(conv["created_at"]),
        updated_at=parse_time(conv["updated_at"]),
        metadata=conv["metadata"],
        custom_instructions=instructions,
        messages=[
            ParsedMessage(
                source_id=m["source_id"],
                parent_source_id=source_of.get(m["parent_id"]) if m["parent_id"] else None,
                role=m["role"],
                author=m["author"],
                created_at=parse_time(m["created_at"]),
                model=m["model"],
                status=m["status"],
                finish_reason=m["finish_reason"],
                hidden=m["hidden"],
                on_current_path=m["on_current_path"],
                metadata=m["metadata"],
                parts=m["parts"],
            )
            for m in rows
        ],
    )
