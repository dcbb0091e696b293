"""Both ends of an exchange over the log: reading a page of operations since a cursor,
receiving a page, and the cursors that make both resumable.

A page lists ``sync_versions`` in log order (seq) after the cursor: the latest version of
every record changed since, each with its current row read now. A record changed twice
since the cursor is sent once. Cursors are moved only in the transaction that applies
what they cover, so an interrupted exchange resumes where it stopped, and resending
anything is harmless (an operation already here is skipped).

``sync_cursors`` rows: (device_id, remote, table_name) ->
- on a device: (server node, "pull", "*") = the server's seq pulled up to; (server node,
  "push", "*") = our seq pushed up to; (server node, "pull", <table>) = the latest clock
  received for that table.
- on the server: (device id, "pull", "*") = the seq the device has acknowledged pulling
  (the ``since`` of its last pull); (device id, "push", "*") = the device's seq received
  up to and (device id, "push", <table>) = the latest clock received per table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from vivim.domain.times import to_iso, utcnow
from vivim.store.user import oplog
from vivim.store.user.db import UserStore
from vivim.sync.merge import MergeResult, Op, merge
from vivim.sync.rows import TableInfo, read_rows, store_infos, table_infos

MAX_PAGE = 5000
DEFAULT_PAGE = 2000


@dataclass
class Page:
    ops: list[Op]
    next: int
    """The cursor to ask from next time."""
    more: bool
    node: str
    clock: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ops": [op.to_json() for op in self.ops],
            "next": self.next,
            "more": self.more,
            "node": self.node,
            "clock": self.clock,
        }


def read_page(
    conn: sqlite3.Connection,
    *,
    since: int,
    limit: int,
    exclude_source: str | None = None,
    local_only: bool = False,
    infos: dict[str, TableInfo] | None = None,
) -> tuple[list[Op], int, bool]:
    """Versions after ``since`` in log order, with rows; ``(ops, next cursor, more)``.

    ``exclude_source`` leaves out what that peer gave us (it has it); ``local_only`` leaves
    out everything received from any peer (a device pushes only its own changes). Call
    after :func:`oplog.fold`, inside a transaction so the rows match the versions.
    """
    limit = max(1, min(limit, MAX_PAGE))
    q = "SELECT table_name, record_id, seq, operation, hlc, device_id, source FROM sync_versions WHERE seq > ?"
    rows = conn.execute(q + " ORDER BY seq LIMIT ?", (since, limit)).fetchall()
    more = len(rows) == limit
    if rows:
        next_cursor = rows[-1][2]
    else:
        next_cursor = max(since, conn.execute("SELECT max(seq) FROM sync_versions").fetchone()[0] or 0)
    keep = [
        r for r in rows
        if not (local_only and r[6] is not None) and not (exclude_source is not None and r[6] == exclude_source)
    ]
    infos = infos if infos is not None else table_infos(conn)
    wanted: dict[str, list[str]] = {}
    for table, record, _seq, operation, *_ in keep:
        if operation != "delete" and table in infos:
            wanted.setdefault(table, []).append(record)
    payloads = {t: read_rows(conn, infos[t], ids) for t, ids in wanted.items()}
    ops = []
    for table, record, seq, operation, clock, device, _source in keep:
        row = payloads.get(table, {}).get(record) if operation != "delete" else None
        if operation != "delete" and row is None:
            continue  # a table this version no longer has; nothing to send
        ops.append(Op(table, record, operation, clock, device, row, seq))
    return ops, next_cursor, more


def get_cursor(conn: sqlite3.Connection, device: str, kind: str, table: str = "*") -> int:
    row = conn.execute(
        "SELECT last_seq FROM sync_cursors WHERE device_id = ? AND remote = ? AND table_name = ?",
        (device, kind, table),
    ).fetchone()
    return row[0] if row else 0


def set_cursor(
    conn: sqlite3.Connection, device: str, kind: str, last_seq: int, *, table: str = "*", last_hlc: str | None = None
) -> None:
    conn.execute(
        "INSERT INTO sync_cursors (device_id, remote, table_name, last_seq, last_hlc, updated_at)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT (device_id, remote, table_name) DO UPDATE SET"
        " last_seq = excluded.last_seq, last_hlc = COALESCE(excluded.last_hlc, sync_cursors.last_hlc),"
        " updated_at = excluded.updated_at",
        (device, kind, table, last_seq, last_hlc, to_iso(utcnow())),
    )


def note_tables(conn: sqlite3.Connection, device: str, kind: str, ops: list[Op]) -> None:
    """Per-table cursors: the latest clock exchanged for each table."""
    latest: dict[str, Op] = {}
    for op in ops:
        if op.table not in latest or op.hlc > latest[op.table].hlc:
            latest[op.table] = op
    for table, op in latest.items():
        set_cursor(conn, device, kind, op.seq, table=table[:200], last_hlc=op.hlc[:40])


# -- the server's side -----------------------------------------------------------------------


def serve_pull(store: UserStore, *, device_id: str, node: str | None, since: int, limit: int) -> Page:
    """A page for ``device_id`` (whose vault is ``node``); records that it has everything
    up to ``since``."""
    with store.transaction() as conn:
        oplog.fold(conn)
        ops, next_cursor, more = read_page(
            conn, since=since, limit=limit, exclude_source=node, infos=store_infos(store, conn)
        )
        if since > get_cursor(conn, device_id, "pull"):
            set_cursor(conn, device_id, "pull", since)
        return Page(ops, next_cursor, more, oplog.node_id(conn), str(oplog.clock(conn)))


def serve_push(store: UserStore, *, device_id: str, node: str, ops: list[Op], seen: int = 0) -> MergeResult:
    """Merge a device's page. Versions here newer than what the device has pulled (``seen``,
    or what it acknowledged before) were unseen by it: overwriting or discarding one of
    those is a recorded conflict."""
    with store.read() as conn:
        acknowledged = get_cursor(conn, device_id, "pull")
    seen = max(seen, acknowledged)

    def progress(conn: sqlite3.Connection) -> None:
        if seen > acknowledged:
            set_cursor(conn, device_id, "pull", seen)
        if ops:
            last = max(op.seq for op in ops)
            if last > get_cursor(conn, device_id, "push"):
                set_cursor(conn, device_id, "push", last)
            note_tables(conn, device_id, "push", ops)

    return merge(store, ops, peer=node, seen_up_to=seen, after=progress)


def status(store: UserStore, *, device_id: str | None = None, counts: bool = True) -> dict[str, Any]:
    """Where this vault's log stands; ``counts`` adds record, tombstone and conflict counts
    (a scan of the versions: left out where only the node id is wanted)."""
    with store.read() as conn:
        ready = not oplog.pending(conn) and conn.execute(
            "SELECT 1 FROM vault_meta WHERE key = ?", (oplog.NODE_KEY,)
        ).fetchone() is not None
    # A write transaction only when there is something to fold (or no sync id yet).
    with store.read() if ready else store.transaction() as conn:
        if not ready:
            oplog.fold(conn)
        data: dict[str, Any] = {
            "node": oplog.node_id(conn),
            "clock": str(oplog.clock(conn)),
            "seq": conn.execute("SELECT max(seq) FROM sync_versions").fetchone()[0] or 0,
        }
        if counts:
            tombstones = conn.execute("SELECT COUNT(*) FROM sync_versions WHERE operation = 'delete'").fetchone()[0]
            data["records"] = conn.execute("SELECT COUNT(*) FROM sync_versions").fetchone()[0] - tombstones
            data["tombstones"] = tombstones
            data["conflicts"] = conn.execute("SELECT COUNT(*) FROM sync_conflicts").fetchone()[0]
        if device_id is not None:
            data["pulled"] = get_cursor(conn, device_id, "pull")
            data["pushed"] = get_cursor(conn, device_id, "push")
    return data


def conflicts(store: UserStore, *, limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]]:
    """Recorded conflicts, newest first."""
    q = (
        "SELECT id, table_name, record_id, kind, winner_hlc, winner_device, loser_hlc, loser_device,"
        " loser_operation, loser_payload, peer, detail, created_at FROM sync_conflicts"
    )
    args: list[Any] = []
    if before_id is not None:
        q += " WHERE id < ?"
        args.append(before_id)
    q += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    with store.read() as conn:
        cur = conn.execute(q, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "Page",
    "conflicts",
    "get_cursor",
    "read_page",
    "serve_pull",
    "serve_push",
    "set_cursor",
    "status",
]
