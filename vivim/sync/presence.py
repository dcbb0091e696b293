"""ClientPresence: which of the user's devices is online, and what it is looking at.

Each device reports its own row (status, active conversation, visible items); it lives
in the vault it was reported to and is not synced (it describes one device, now). When a
device names an active conversation, a context bundle for continuing it is built ahead of
the next request: the conversation's compaction and the context caches are warm by the
time the user sends a message, and the bundle's id is kept on the presence row.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from vivim.domain.errors import InvalidInput, NotFound, VivimError
from vivim.domain.times import to_iso, utcnow
from vivim.store.user.db import UserStore

STATUSES = ("online", "away", "offline")
MAX_VISIBLE = 200
MAX_ITEM = 128


@dataclass(frozen=True)
class Presence:
    device_id: str
    status: str
    active_conversation_id: str | None
    visible_items: list[str]
    last_seen_at: str
    bundle_id: str | None
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = "device_id, status, active_conversation_id, visible_items, last_seen_at, bundle_id, metadata"


def _presence(row: tuple[Any, ...]) -> Presence:
    device, status, active, visible, seen, bundle, metadata = row
    return Presence(device, status, active, json.loads(visible or "[]"), seen, bundle, json.loads(metadata or "{}"))


def update(
    store: UserStore,
    *,
    device_id: str,
    status: str = "online",
    active_conversation_id: str | None = None,
    visible_items: list[str] | None = None,
) -> Presence:
    """Record what ``device_id`` reports now (replacing its previous report)."""
    if status not in STATUSES:
        raise InvalidInput(f"status is one of {', '.join(STATUSES)}")
    items = list(visible_items or [])
    if len(items) > MAX_VISIBLE or any(not isinstance(i, str) or not 0 < len(i) <= MAX_ITEM for i in items):
        raise InvalidInput(f"visible_items is at most {MAX_VISIBLE} ids of 1-{MAX_ITEM} characters")
    with store.transaction() as conn:
        if active_conversation_id is not None and conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (active_conversation_id,)
        ).fetchone() is None:
            raise NotFound(f"no conversation {active_conversation_id!r} (sync it first)")
        previous = conn.execute(
            "SELECT active_conversation_id, bundle_id FROM client_presence WHERE device_id = ?", (device_id,)
        ).fetchone()
        # A bundle made for another conversation no longer describes this device.
        bundle = previous[1] if previous and previous[0] == active_conversation_id else None
        conn.execute(
            f"INSERT INTO client_presence ({_COLUMNS}) VALUES (?,?,?,?,?,?,'{{}}') ON CONFLICT (device_id) DO UPDATE"
            " SET status = excluded.status, active_conversation_id = excluded.active_conversation_id,"
            " visible_items = excluded.visible_items, last_seen_at = excluded.last_seen_at,"
            " bundle_id = excluded.bundle_id",
            (device_id, status, active_conversation_id, json.dumps(items), to_iso(utcnow()), bundle),
        )
        return _get(conn, device_id)


def _get(conn: sqlite3.Connection, device_id: str) -> Presence:
    row = conn.execute(f"SELECT {_COLUMNS} FROM client_presence WHERE device_id = ?", (device_id,)).fetchone()
    if row is None:
        raise NotFound(f"no presence reported by device {device_id!r}")
    return _presence(row)


def get(store: UserStore, device_id: str) -> Presence:
    with store.read() as conn:
        return _get(conn, device_id)


def list_presence(store: UserStore) -> list[Presence]:
    """Every device's last report, most recently seen first."""
    with store.read() as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM client_presence ORDER BY last_seen_at DESC, device_id").fetchall()
    return [_presence(r) for r in rows]


def _continuation_message(conn: sqlite3.Connection, conversation_id: str) -> str:
    """What the bundle is built for: the conversation's last user turn (the thread the user
    is most likely continuing), or its title."""
    from vivim.domain.parts import message_text

    row = conn.execute(
        "SELECT parts FROM messages WHERE conversation_id = ? AND role = 'user' AND hidden = 0"
        " ORDER BY message_index DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    text = ""
    if row is not None:
        try:
            text = message_text(json.loads(row[0]))
        except (ValueError, TypeError, KeyError, AttributeError):
            text = ""
    if not text.strip():
        title = conn.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        text = (title[0] if title else "") or "continue this conversation"
    return text[:4000]


def precompute_bundle(store: UserStore, device_id: str, *, search: Any = None) -> str | None:
    """Build (or find cached) the context bundle for ``device_id``'s active conversation and
    keep its id on the presence row. Returns the bundle id, None without an active one."""
    with store.read() as conn:
        row = conn.execute(
            "SELECT active_conversation_id FROM client_presence WHERE device_id = ?", (device_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        conversation_id = row[0]
        message = _continuation_message(conn, conversation_id)
    from vivim.context.bundle import ContextEngine

    bundle = ContextEngine(store, search).build(message, conversation_id=conversation_id)
    with store.transaction() as conn:
        # Only if the device is still on that conversation.
        conn.execute(
            "UPDATE client_presence SET bundle_id = ? WHERE device_id = ? AND active_conversation_id = ?",
            (bundle.id, device_id, conversation_id),
        )
    return bundle.id


def precompute_quietly(store: UserStore, device_id: str, *, search: Any = None) -> str | None:
    """:func:`precompute_bundle` for background use: a failure is noted on the row, never raised."""
    try:
        return precompute_bundle(store, device_id, search=search)
    except (VivimError, sqlite3.Error, ImportError) as exc:
        with store.transaction() as conn:
            conn.execute(
                "UPDATE client_presence SET metadata = json_set(metadata, '$.bundle_error', ?) WHERE device_id = ?",
                (str(exc)[:500], device_id),
            )
        return None


__all__ = ["Presence", "STATUSES", "get", "list_presence", "precompute_bundle", "precompute_quietly", "update"]
