"""Notebooks: user-curated collections of units, memories and notes.

Public functions (ids may be a full id or an unambiguous prefix of >= 6 characters):

- ``create_notebook(store, title, description=, pinned=)``, ``list_notebooks(store)`` (with
  entry counts), ``get_notebook(store, notebook_id)`` (with its entries, each resolved to
  the unit's or memory's text), ``update_notebook``, ``delete_notebook``
- ``add_entry(store, notebook_id, unit_id=| memory_id=| note=, position=None)``: exactly one
  of the three; appended unless a position (0-based) is given
- ``update_entry(store, notebook_id, entry_id, note=, position=)``: edit a note, move an entry
- ``remove_entry(store, notebook_id, entry_id)``

Positions are kept dense (0, 1, 2, ...) so moving and removing never leave gaps.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from vivim.domain.errors import InvalidInput, NotFound
from vivim.domain.ids import new_id
from vivim.domain.times import to_iso, utcnow
from vivim.memory.memories import resolve_id
from vivim.store.user.db import UserStore

MAX_TITLE_CHARS = 200
MAX_NOTE_CHARS = 20_000
_N_COLUMNS = "id, title, description, pinned, created_at, updated_at, metadata"


def _title(title: str) -> str:
    text = title.strip() if isinstance(title, str) else ""
    if not text:
        raise InvalidInput("a notebook needs a title")
    if len(text) > MAX_TITLE_CHARS:
        raise InvalidInput(f"a notebook title is at most {MAX_TITLE_CHARS} characters")
    return text


def _note(note: str) -> str:
    text = note.strip() if isinstance(note, str) else ""
    if not text:
        raise InvalidInput("a note must not be empty")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note is at most {MAX_NOTE_CHARS} characters")
    return text


def _notebook(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    d["pinned"] = bool(d["pinned"])
    d["metadata"] = json.loads(d["metadata"] or "{}")
    return d


def _entries(conn: sqlite3.Connection, notebook_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT e.id, e.entry_type, e.unit_id, e.memory_id, e.note, e.position, e.created_at, e.updated_at,"
        " u.content, u.conversation_id, u.message_id, m.content, m.memory_type"
        " FROM notebook_entries e LEFT JOIN atomic_chat_units u ON u.id = e.unit_id"
        " LEFT JOIN memories m ON m.id = e.memory_id WHERE e.notebook_id = ? ORDER BY e.position, e.id",
        (notebook_id,),
    ).fetchall()
    out = []
    for r in rows:
        entry: dict[str, Any] = {
            "id": r[0], "entry_type": r[1], "unit_id": r[2], "memory_id": r[3], "note": r[4], "position": r[5],
            "created_at": r[6], "updated_at": r[7],
        }
        if r[1] == "unit":
            entry.update(text=r[8], conversation_id=r[9], message_id=r[10])
        elif r[1] == "memory":
            entry.update(text=r[11], memory_type=r[12])
        else:
            entry["text"] = r[4]
        out.append(entry)
    return out


def _get(conn: sqlite3.Connection, notebook_id: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {_N_COLUMNS} FROM notebooks WHERE id = ?", (notebook_id,))
    nb = _notebook(cur, cur.fetchone())
    nb["entries"] = _entries(conn, notebook_id)
    nb["entry_count"] = len(nb["entries"])
    return nb


def create_notebook(
    store: UserStore, title: str, *, description: str | None = None, pinned: bool = False
) -> dict[str, Any]:
    now = to_iso(utcnow())
    nid = new_id()
    with store.transaction() as conn:
        conn.execute(
            f"INSERT INTO notebooks ({_N_COLUMNS}) VALUES (?,?,?,?,?,?,'{{}}')",
            (nid, _title(title), (description or "").strip() or None, int(pinned), now, now),
        )
        return _get(conn, nid)


def list_notebooks(store: UserStore) -> list[dict[str, Any]]:
    with store.read() as conn:
        cur = conn.execute(
            f"SELECT {_N_COLUMNS}, (SELECT COUNT(*) FROM notebook_entries e WHERE e.notebook_id = notebooks.id)"
            " AS entry_count FROM notebooks ORDER BY pinned DESC, updated_at DESC, id"
        )
        return [_notebook(cur, r) for r in cur.fetchall()]


def get_notebook(store: UserStore, notebook_id: str) -> dict[str, Any]:
    with store.read() as conn:
        return _get(conn, resolve_id(conn, "notebooks", notebook_id, "notebook"))


def update_notebook(
    store: UserStore,
    notebook_id: str,
    *,
    title: str | None = None,
    description: str | None = None,
    pinned: bool | None = None,
) -> dict[str, Any]:
    sets: list[str] = []
    params: list[Any] = []
    if title is not None:
        sets.append("title = ?")
        params.append(_title(title))
    if description is not None:
        sets.append("description = ?")
        params.append(description.strip() or None)
    if pinned is not None:
        sets.append("pinned = ?")
        params.append(int(pinned))
    with store.transaction() as conn:
        nid = resolve_id(conn, "notebooks", notebook_id, "notebook")
        if sets:
            sets.append("updated_at = ?")
            params.append(to_iso(utcnow()))
            conn.execute(f"UPDATE notebooks SET {', '.join(sets)} WHERE id = ?", [*params, nid])
        return _get(conn, nid)


def delete_notebook(store: UserStore, notebook_id: str) -> str:
    with store.transaction() as conn:
        nid = resolve_id(conn, "notebooks", notebook_id, "notebook")
        conn.execute("DELETE FROM notebooks WHERE id = ?", (nid,))
    return nid


def _renumber(conn: sqlite3.Connection, notebook_id: str, order: list[str]) -> None:
    conn.executemany(
        "UPDATE notebook_entries SET position = ? WHERE id = ?", [(i, eid) for i, eid in enumerate(order)]
    )


def _order(conn: sqlite3.Connection, notebook_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM notebook_entries WHERE notebook_id = ? ORDER BY position, id", (notebook_id,)
        )
    ]


def _touch(conn: sqlite3.Connection, notebook_id: str) -> None:
    conn.execute("UPDATE notebooks SET updated_at = ? WHERE id = ?", (to_iso(utcnow()), notebook_id))


def add_entry(
    store: UserStore,
    notebook_id: str,
    *,
    unit_id: str | None = None,
    memory_id: str | None = None,
    note: str | None = None,
    position: int | None = None,
) -> dict[str, Any]:
    """Add a unit, a memory or a note; returns the entry."""
    given = [x for x in (unit_id, memory_id, note) if x is not None]
    if len(given) != 1:
        raise InvalidInput("an entry is exactly one of: a unit, a memory, a note")
    now = to_iso(utcnow())
    with store.transaction() as conn:
        nid = resolve_id(conn, "notebooks", notebook_id, "notebook")
        if unit_id is not None:
            kind, ref = "unit", resolve_id(conn, "atomic_chat_units", unit_id, "unit")
        elif memory_id is not None:
            kind, ref = "memory", resolve_id(conn, "memories", memory_id, "memory")
        else:
            kind, ref = "note", _note(note or "")
        order = _order(conn, nid)
        eid = new_id()
        conn.execute(
            "INSERT INTO notebook_entries (id, notebook_id, entry_type, unit_id, memory_id, note, position, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (eid, nid, kind, ref if kind == "unit" else None, ref if kind == "memory" else None,
             ref if kind == "note" else None, len(order), now, now),
        )
        if position is not None:
            order.insert(max(0, min(position, len(order))), eid)
            _renumber(conn, nid, order)
        _touch(conn, nid)
        return next(e for e in _entries(conn, nid) if e["id"] == eid)


def _entry_id(conn: sqlite3.Connection, notebook_id: str, entry_id: str) -> str:
    eid = resolve_id(conn, "notebook_entries", entry_id, "notebook entry")
    row = conn.execute("SELECT notebook_id FROM notebook_entries WHERE id = ?", (eid,)).fetchone()
    if row[0] != notebook_id:
        raise NotFound(f"no entry {entry_id[:40]!r} in this notebook")
    return eid


def update_entry(
    store: UserStore, notebook_id: str, entry_id: str, *, note: str | None = None, position: int | None = None
) -> dict[str, Any]:
    with store.transaction() as conn:
        nid = resolve_id(conn, "notebooks", notebook_id, "notebook")
        eid = _entry_id(conn, nid, entry_id)
        if note is not None:
            kind = conn.execute("SELECT entry_type FROM notebook_entries WHERE id = ?", (eid,)).fetchone()[0]
            if kind != "note":
                raise InvalidInput("only a note entry has text to edit")
            conn.execute(
                "UPDATE notebook_entries SET note = ?, updated_at = ? WHERE id = ?", (_note(note), to_iso(utcnow()), eid)
            )
        if position is not None:
            order = [e for e in _order(conn, nid) if e != eid]
            order.insert(max(0, min(position, len(order))), eid)
            _renumber(conn, nid, order)
        _touch(conn, nid)
        return next(e for e in _entries(conn, nid) if e["id"] == eid)


def remove_entry(store: UserStore, notebook_id: str, entry_id: str) -> str:
    with store.transaction() as conn:
        nid = resolve_id(conn, "notebooks", notebook_id, "notebook")
        eid = _entry_id(conn, nid, entry_id)
        conn.execute("DELETE FROM notebook_entries WHERE id = ?", (eid,))
        _renumber(conn, nid, _order(conn, nid))
        _touch(conn, nid)
    return eid


__all__ = [
    "add_entry",
    "create_notebook",
    "delete_notebook",
    "get_notebook",
    "list_notebooks",
    "remove_entry",
    "update_entry",
    "update_notebook",
]
