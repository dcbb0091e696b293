"""The operation log of one user DB: stamping at commit, and folding into versions.

Triggers (migration 0009) append ``(table, record, operation)`` to ``sync_operations`` for
every write to a synced table, with no clock. ``UserStore.transaction`` calls :func:`mark`
when a transaction begins and :func:`stamp` just before it commits: one clock tick and one
ranged UPDATE per transaction, however many rows it wrote.

:func:`fold` moves stamped operations into ``sync_versions`` (the latest operation of each
record) in key order, and drops the queue rows it folded. It runs when a sync needs the
versions, never during an import.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from vivim.domain import hlc


@contextmanager
def bulk_inserts(conn: sqlite3.Connection, *tables: str) -> Iterator[None]:
    """Pause the capture triggers around a bulk insert into ``tables`` (rowid tables keyed
    by ``id``), then log an 'insert' operation for every row it added, as the triggers
    would have: the same operations in the same transaction, appended with one statement
    per table that reads the new rows back by rowid. Per-row triggers cost a
    100,000-message import about 1.5 s; binding each id from Python, about 0.5 s; this,
    about 0.2 s (docs/PERFORMANCE.md, issue 3)."""
    try:
        rowid = conn.execute("INSERT INTO sync_pause (reason) VALUES ('bulk insert')").lastrowid
    except sqlite3.OperationalError:  # a DB from before the log (migration 0009): nothing to pause
        yield
        return
    # Inside the transaction that holds the write lock, new rows get rowids above the
    # largest one now (SQLite picks max(rowid) + 1), so these bounds find exactly them.
    before = {t: conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0] for t in tables}
    try:
        yield
    finally:
        conn.execute("DELETE FROM sync_pause WHERE rowid = ?", (rowid,))
    for table in tables:
        conn.execute(
            "INSERT INTO sync_operations (table_name, record_id, operation)"
            f" SELECT '{table}', id, 'insert' FROM {table} WHERE rowid > ? ORDER BY rowid",
            (before[table],),
        )


NODE_KEY = "sync_node"
CLOCK_KEY = "sync_clock"
FOLDED_KEY = "sync_folded"


def mark(conn: sqlite3.Connection) -> int | None:
    """The last queued operation's seq (0 if none); None on a DB without the log."""
    try:
        return conn.execute("SELECT max(seq) FROM sync_operations").fetchone()[0] or 0
    except sqlite3.OperationalError:
        return None


def stamp(conn: sqlite3.Connection, since: int | None) -> None:
    """Give the operations this transaction queued (seq > ``since``) one fresh clock."""
    if since is None:
        return
    top = conn.execute("SELECT max(seq) FROM sync_operations").fetchone()[0]
    if top is None or top <= since:
        return
    if conn.execute(
        "SELECT 1 FROM sync_operations WHERE seq > ? AND hlc IS NULL LIMIT 1", (since,)
    ).fetchone() is None:
        return  # only operations a merge already stamped with their remote clocks
    clock = next_clock(conn)
    conn.execute(
        "UPDATE sync_operations SET hlc = ?, device_id = ? WHERE seq > ? AND hlc IS NULL",
        (str(clock), node_id(conn), since),
    )


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM vault_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO vault_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def node_id(conn: sqlite3.Connection) -> str:
    """This vault's id as a sync device: the origin of the operations made here.

    Made on first use (not in the template every new vault is copied from), so each vault
    gets its own. A restored copy used side by side with its original must be given a
    new one (:func:`reset_node`), or the two would break ties identically.
    """
    node = _meta(conn, NODE_KEY)
    if node is None:
        node = secrets.token_hex(16)
        _set_meta(conn, NODE_KEY, node)
    return node


def reset_node(conn: sqlite3.Connection, node: str | None = None) -> str:
    node = node or secrets.token_hex(16)
    _set_meta(conn, NODE_KEY, node)
    return node


def clock(conn: sqlite3.Connection) -> hlc.Hlc:
    text = _meta(conn, CLOCK_KEY)
    return hlc.parse(text) if text else hlc.ZERO


def next_clock(conn: sqlite3.Connection) -> hlc.Hlc:
    value = hlc.tick(clock(conn), hlc.now_ms())
    _set_meta(conn, CLOCK_KEY, str(value))
    return value


def observe(conn: sqlite3.Connection, remote: hlc.Hlc) -> None:
    current = clock(conn)
    if remote > current:
        _set_meta(conn, CLOCK_KEY, str(hlc.observe(current, remote)))


_FOLD = (
    "INSERT INTO sync_versions (table_name, record_id, seq, operation, hlc, device_id, source)"
    " SELECT table_name, record_id, seq, operation, hlc, device_id, source FROM sync_operations"
    " WHERE seq > ? AND seq <= ? ORDER BY table_name, record_id, seq"
    " ON CONFLICT (table_name, record_id) DO UPDATE SET seq = excluded.seq, operation = excluded.operation,"
    " hlc = excluded.hlc, device_id = excluded.device_id, source = excluded.source"
    " WHERE excluded.seq > sync_versions.seq"
)


def pending(conn: sqlite3.Connection) -> bool:
    """Whether the queue holds operations not folded yet (a cheap read)."""
    top = conn.execute("SELECT max(seq) FROM sync_operations").fetchone()[0] or 0
    return top > int(_meta(conn, FOLDED_KEY) or 0)


def fold(conn: sqlite3.Connection) -> int:
    """Bring ``sync_versions`` up to date with the queue; returns the operations folded.

    Call inside a write transaction. Unstamped rows (written by a connection that is not a
    UserStore, e.g. a script) get a clock now. Folded queue rows are deleted except the
    last one, which keeps seq growing (rowids restart after the largest remaining one).
    """
    done = int(_meta(conn, FOLDED_KEY) or 0)
    top = conn.execute("SELECT max(seq) FROM sync_operations").fetchone()[0] or 0
    if top <= done:
        return 0
    stamp(conn, done)
    n = conn.execute(_FOLD, (done, top)).rowcount
    conn.execute("DELETE FROM sync_operations WHERE seq < ?", (top,))
    _set_meta(conn, FOLDED_KEY, str(top))
    return n


__all__ = ["clock", "fold", "mark", "next_clock", "node_id", "observe", "pending", "reset_node", "stamp"]
