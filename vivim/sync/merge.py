"""Merging operations from another device: deterministic, idempotent, and recorded.

For each record the version with the greater ``(hlc, device)`` wins (last writer wins,
ties broken by device id); a delete is a version like any other and stays as the record's
tombstone, so a late update of a deleted record loses to the delete only if it is older.
An operation equal to the version already here is skipped, so applying one twice changes
nothing. Clocks more than ``hlc.MAX_DRIFT_MS`` ahead of ours are refused.

A conflict is recorded in ``sync_conflicts`` when two versions of a record were written
without either side having seen the other (concurrent) and they differ: ``overwritten``
(our version lost), ``discarded`` (theirs lost), ``duplicate_key`` (two records collided
on a unique key other than the id: the older is deleted), ``rejected`` (not applied at
all: unknown table, bad clock or row). "Not seen" is judged from the cursors: on a device,
a local version not pushed yet; on the server, a version newer than the pushing device's
pull cursor.

Foreign keys are switched off while a page is applied: operations arrive in the order
their records last changed, not parents first, and a child can outlive a parent deleted
concurrently on another device (both devices end with the same rows either way).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from vivim.domain import hlc
from vivim.domain.errors import InvalidInput
from vivim.domain.times import date_words, to_iso, utcnow
from vivim.store.user import oplog
from vivim.store.user.db import UserStore
from vivim.sync.rows import TableInfo, decode, delete_row, read_row, same_content, store_infos, write_row

OPERATIONS = ("insert", "update", "delete")
MAX_RECORD_ID = 2048


@dataclass(frozen=True, slots=True)
class Op:
    """One operation on the wire: a record's latest version and its row (None: deleted)."""

    table: str
    record: str
    operation: str
    hlc: str
    device: str
    row: dict[str, Any] | None
    seq: int = 0
    """The sender's log position (for its cursor; not part of the version)."""

    @classmethod
    def from_json(cls, data: Any) -> Op:
        if not isinstance(data, dict):
            raise InvalidInput("an operation is a JSON object")
        table, record, operation = data.get("table"), data.get("record"), data.get("operation")
        clock, device, row, seq = data.get("hlc"), data.get("device"), data.get("row"), data.get("seq", 0)
        if not isinstance(table, str) or not isinstance(record, str) or not 0 < len(record) <= MAX_RECORD_ID:
            raise InvalidInput("an operation names its table and record")
        if operation not in OPERATIONS:
            raise InvalidInput(f"operation is one of {', '.join(OPERATIONS)}")
        if not isinstance(clock, str) or not isinstance(device, str) or not 0 < len(device) <= 64:
            raise InvalidInput("an operation carries its clock and device")
        if operation == "delete":
            row = None
        elif not isinstance(row, dict):
            raise InvalidInput("an insert or update carries the record's row")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise InvalidInput("seq is an integer")
        return cls(table, record, operation, clock, device, row, seq)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "record": self.record,
            "operation": self.operation,
            "hlc": self.hlc,
            "device": self.device,
            "seq": self.seq,
            "row": self.row,
        }


@dataclass
class MergeResult:
    applied: int = 0
    skipped: int = 0
    rejected: int = 0
    conflicts: int = 0
    max_hlc: str | None = None
    errors: list[str] = field(default_factory=list)

    def add(self, other: MergeResult) -> None:
        self.applied += other.applied
        self.skipped += other.skipped
        self.rejected += other.rejected
        self.conflicts += other.conflicts
        if other.max_hlc and (self.max_hlc is None or other.max_hlc > self.max_hlc):
            self.max_hlc = other.max_hlc
        self.errors.extend(other.errors[: max(0, 20 - len(self.errors))])

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "conflicts": self.conflicts,
            "max_hlc": self.max_hlc,
            "errors": self.errors,
        }


def _value(v: Any) -> Any:
    return decode(v) if isinstance(v, dict | list) else v


@dataclass(frozen=True, slots=True)
class _Version:
    seq: int
    operation: str
    hlc: str
    device: str
    source: str | None


def _version(conn: sqlite3.Connection, table: str, record: str) -> _Version | None:
    row = conn.execute(
        "SELECT seq, operation, hlc, device_id, source FROM sync_versions WHERE table_name = ? AND record_id = ?",
        (table, record),
    ).fetchone()
    return _Version(*row) if row else None


def merge(
    store: UserStore,
    ops: Iterable[Op],
    *,
    peer: str,
    seen_up_to: int,
    after: Callable[[sqlite3.Connection], None] | None = None,
    wall_ms: int | None = None,
) -> MergeResult:
    """Apply ``ops`` received from ``peer`` in one transaction; ``after`` runs in it last
    (to move a cursor together with what it covers). ``seen_up_to``: our log position the
    peer is known to have seen (see the module docstring)."""
    ops = list(ops)
    if not ops:
        if after is not None:
            with store.transaction() as conn:
                after(conn)
        return MergeResult()
    with store.read() as raw:
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with store.transaction() as conn:
                oplog.fold(conn)
                infos = store_infos(store, conn)
                result = _Merger(conn, peer, seen_up_to, wall_ms or hlc.now_ms(), infos).run(ops)
                if after is not None:
                    after(conn)
        finally:
            raw.execute("PRAGMA foreign_keys = ON")
    return result


class _Merger:
    """One page, in batches: versions are looked up per table, rows written with one
    statement per table and column set, the log and versions appended in bulk. The
    capture triggers are paused meanwhile (``sync_pause``): the merge logs each operation
    itself, with the clock and device it came with."""

    def __init__(
        self, conn: sqlite3.Connection, peer: str, seen_up_to: int, wall_ms: int, infos: dict[str, TableInfo]
    ) -> None:
        self.conn = conn
        self.peer = peer
        self.seen_up_to = seen_up_to
        self.wall_ms = wall_ms
        self.infos = infos
        self.result = MergeResult()
        self.now = to_iso(utcnow())
        self.units_changed = False

    def run(self, ops: list[Op]) -> MergeResult:
        self.conn.execute("INSERT INTO sync_pause (reason) VALUES ('merge')")
        winners = self._winners(self._valid(ops))
        applied = self._apply(winners)
        self._log(applied)
        self.conn.execute("DELETE FROM sync_pause")
        if self.units_changed:
            from vivim.store.user.units import bump_search_generation

            bump_search_generation(self.conn)
        return self.result

    def _valid(self, ops: list[Op]) -> dict[tuple[str, str], Op]:
        """Well-formed operations, the best one per record."""
        best: dict[tuple[str, str], Op] = {}
        top: hlc.Hlc | None = None
        for op in ops:
            try:
                clock = hlc.parse(op.hlc)
                if hlc.too_far_ahead(clock, self.wall_ms):
                    raise InvalidInput(f"clock {op.hlc} is more than {hlc.MAX_DRIFT_MS // 1000} s ahead of ours")
                info = self.infos.get(op.table)
                if info is None:
                    raise InvalidInput(f"{op.table!r} is not a synced table here")
                info.key_values(op.record)
                if op.row is not None:
                    info.check_row(op.record, op.row)
            except InvalidInput as exc:
                self._reject(op, str(exc))
                continue
            top = clock if top is None or clock > top else top
            key = (op.table, op.record)
            other = best.get(key)
            if other is None:
                best[key] = op
            else:
                self.result.skipped += 1
                if (op.hlc, op.device) > (other.hlc, other.device):
                    best[key] = op
        if top is not None:
            oplog.observe(self.conn, top)
            self.result.max_hlc = str(top)
        return best

    def _versions(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], _Version]:
        by_table: dict[str, list[str]] = {}
        for table, record in keys:
            by_table.setdefault(table, []).append(record)
        out: dict[tuple[str, str], _Version] = {}
        for table, records in by_table.items():
            for i in range(0, len(records), 500):
                chunk = records[i : i + 500]
                for r in self.conn.execute(
                    "SELECT record_id, seq, operation, hlc, device_id, source FROM sync_versions"
                    f" WHERE table_name = ? AND record_id IN ({','.join('?' * len(chunk))})",
                    [table, *chunk],
                ):
                    out[(table, r[0])] = _Version(*r[1:])
        return out

    def _concurrent(self, v: _Version, op: Op) -> bool:
        return v.seq > self.seen_up_to and v.source != self.peer and v.device != op.device

    def _winners(self, best: dict[tuple[str, str], Op]) -> list[Op]:
        versions = self._versions(best)
        winners = []
        for key, op in best.items():
            v = versions.get(key)
            info = self.infos[op.table]
            if v is not None and (v.hlc, v.device) >= (op.hlc, op.device):
                self.result.skipped += 1
                if (v.hlc, v.device) != (op.hlc, op.device) and self._concurrent(v, op):
                    local = read_row(self.conn, info, op.record)
                    if not same_content(local, op.row):
                        self._conflict(op, "discarded", winner=(v.hlc, v.device), loser=op, detail="")
                continue
            if v is not None and self._concurrent(v, op):
                local = read_row(self.conn, info, op.record)
                if not same_content(local, op.row):
                    self._conflict_local(op, v, local)
            winners.append(op)
        return winners

    def _apply(self, winners: list[Op]) -> list[Op]:
        """Write the winning rows; returns those that were applied."""
        groups: dict[tuple[str, tuple[str, ...] | None], list[Op]] = {}
        one_by_one: list[Op] = []
        for op in winners:
            if op.table == "atomic_chat_units":
                one_by_one.append(op)  # the full-text index moves with each unit
                continue
            cols = None if op.row is None else tuple(c for c in self.infos[op.table].shipped if c in op.row)
            groups.setdefault((op.table, cols), []).append(op)
        applied: list[Op] = []
        for (table, cols), group in groups.items():
            info = self.infos[table]
            # In key order: ids are hashes, and b-tree inserts in order touch each page once.
            group.sort(key=lambda op: op.record)
            try:
                with self._savepoint():
                    if cols is None:
                        where = " AND ".join(f"{k} = ?" for k in info.spec.key)
                        self.conn.executemany(
                            f"DELETE FROM {table} WHERE {where}", [info.key_values(op.record) for op in group]
                        )
                    else:
                        # Only BLOB columns carry encoded values; anything else that is not
                        # a scalar fails to bind and sends the group down the one-by-one path.
                        blobs = [i for i, c in enumerate(cols) if c in info.blobs]
                        rows = [[op.row[c] for c in cols] for op in group]  # type: ignore[index]
                        for row in rows:
                            for i in blobs:
                                row[i] = _value(row[i])
                        self.conn.executemany(info.upsert_sql(cols), rows)
                applied.extend(group)
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, InvalidInput,
                    ValueError, OverflowError):
                one_by_one.extend(group)  # find the row at fault; the others still apply
        for op in one_by_one:
            try:
                with self._savepoint():
                    ok = self._write(op, self.infos[op.table])
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, InvalidInput,
                    ValueError, OverflowError) as exc:
                self._reject(op, str(exc))
                continue
            if ok:
                applied.append(op)
        return applied

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self.conn.execute("SAVEPOINT sync_merge")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO sync_merge")
            self.conn.execute("RELEASE sync_merge")
            raise
        self.conn.execute("RELEASE sync_merge")

    def _log(self, applied: list[Op]) -> None:
        """Append the applied operations to the log and make them the records' versions."""
        if not applied:
            return
        applied.sort(key=lambda op: (op.table, op.record))  # the versions' key order
        before = self.conn.execute("SELECT max(seq) FROM sync_operations").fetchone()[0] or 0
        self.conn.executemany(
            "INSERT INTO sync_operations (seq, table_name, record_id, operation, hlc, device_id, source)"
            " VALUES (?,?,?,?,?,?,?)",
            [(before + i, op.table, op.record, op.operation, op.hlc, op.device, self.peer)
             for i, op in enumerate(applied, 1)],
        )
        self.conn.executemany(
            "INSERT INTO sync_versions (table_name, record_id, seq, operation, hlc, device_id, source)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT (table_name, record_id) DO UPDATE SET seq = excluded.seq,"
            " operation = excluded.operation, hlc = excluded.hlc, device_id = excluded.device_id,"
            " source = excluded.source",
            [(op.table, op.record, before + i, op.operation, op.hlc, op.device, self.peer)
             for i, op in enumerate(applied, 1)],
        )
        self.result.applied += len(applied)

    def _write(self, op: Op, info: TableInfo) -> bool:
        """Apply the row (or the delete); False when it lost a unique-key collision."""
        units = op.table == "atomic_chat_units"
        if units:
            self._unindex_unit(op.record)
            self.units_changed = True
        if op.row is None:
            if units:
                self.conn.execute("DELETE FROM unit_search_rows WHERE unit_id = ?", (op.record,))
            delete_row(self.conn, info, op.record)
            return True
        for _ in range(8):
            try:
                write_row(self.conn, info, op.record, op.row)
                break
            except sqlite3.IntegrityError as exc:
                if not self._resolve_duplicate(op, info, str(exc)):
                    return False
        else:
            raise InvalidInput("the row collides with too many records")
        if units:
            self._index_unit(op.row)
        return True

    def _resolve_duplicate(self, op: Op, info: TableInfo, message: str) -> bool:
        """Two records with different ids but one unique key (e.g. the same fact added on two
        devices): the newer stays. True when ours was removed and the write can be retried."""
        prefix = "UNIQUE constraint failed: "
        if not message.startswith(prefix) or op.row is None:
            raise sqlite3.IntegrityError(message)
        columns = [part.strip().split(".", 1)[-1] for part in message[len(prefix) :].split(",")]
        if any(c not in op.row for c in columns) or tuple(columns) == info.spec.key:
            raise sqlite3.IntegrityError(message)
        where = " AND ".join(f"{c} IS ?" for c in columns)
        keys = ", ".join(info.spec.key)
        rows = self.conn.execute(
            f"SELECT {keys} FROM {info.name} WHERE {where}", [decode(op.row[c]) for c in columns]
        ).fetchall()
        others = [info.record_id(dict(zip(info.spec.key, r, strict=True))) for r in rows]
        others = [o for o in others if o != op.record]
        if not others:
            raise sqlite3.IntegrityError(message)
        for other in others:
            v = _version(self.conn, op.table, other)
            theirs = (v.hlc, v.device) if v else ("", "")
            if theirs > (op.hlc, op.device):
                self._conflict(op, "duplicate_key", winner=theirs, loser=op, detail=f"same {', '.join(columns)} as {other}")
                self.result.skipped += 1
                return False
        for other in others:
            v = _version(self.conn, op.table, other)
            local = read_row(self.conn, info, other)
            self._record(
                op.table, other, "duplicate_key", (op.hlc, op.device),
                (v.hlc if v else None, v.device if v else None, v.operation if v else None), local,
                f"same {', '.join(columns)} as {op.record}",
            )
            # Deleting ours logs a tombstone like any local delete, so the other devices
            # that still have it drop it too.
            delete_row(self.conn, info, other)
            # The triggers are paused: log the delete as this device's own (stamped at commit).
            self.conn.execute(
                "INSERT INTO sync_operations (table_name, record_id, operation) VALUES (?, ?, 'delete')",
                (op.table, other),
            )
        return True

    # -- the unit full-text index (kept by the indexer on a normal write) ----------------------
    def _unindex_unit(self, unit_id: str) -> None:
        row = self.conn.execute(
            "SELECT r.rowid, u.index_text, u.content, u.source_timestamp FROM unit_search_rows r"
            " JOIN atomic_chat_units u ON u.id = r.unit_id WHERE r.unit_id = ?",
            (unit_id,),
        ).fetchone()
        if row is not None:
            rowid, text, content, ts = row
            self.conn.execute(
                "INSERT INTO unit_fts (unit_fts, rowid, own, date) VALUES ('delete', ?, ?, ?)",
                (rowid, text if text is not None else content or "", date_words(ts)),
            )

    def _index_unit(self, row: dict[str, Any]) -> None:
        unit_id = row["id"]
        self.conn.execute("INSERT OR IGNORE INTO unit_search_rows (unit_id) VALUES (?)", (unit_id,))
        rowid = self.conn.execute("SELECT rowid FROM unit_search_rows WHERE unit_id = ?", (unit_id,)).fetchone()[0]
        stored = self.conn.execute(
            "SELECT index_text, content, source_timestamp FROM atomic_chat_units WHERE id = ?", (unit_id,)
        ).fetchone()
        text, content, ts = stored
        self.conn.execute(
            "INSERT INTO unit_fts (rowid, own, date) VALUES (?, ?, ?)",
            (rowid, text if text is not None else content or "", date_words(ts)),
        )

    # -- recording -----------------------------------------------------------------------------
    def _reject(self, op: Op, detail: str) -> None:
        self.result.rejected += 1
        if len(self.result.errors) < 20:
            self.result.errors.append(f"{op.table} {op.record[:80]}: {detail}")
        self._record(op.table[:200], op.record[:MAX_RECORD_ID], "rejected", None,
                     (op.hlc[:40], op.device[:64], op.operation), op.row, detail[:1000])

    def _conflict(self, op: Op, kind: str, *, winner: tuple[str, str], loser: Op, detail: str) -> None:
        self._record(op.table, op.record, kind, winner, (loser.hlc, loser.device, loser.operation), loser.row, detail)

    def _conflict_local(self, op: Op, v: _Version, local: dict[str, Any] | None) -> None:
        self._record(op.table, op.record, "overwritten", (op.hlc, op.device), (v.hlc, v.device, v.operation), local, "")

    def _record(
        self,
        table: str,
        record: str,
        kind: str,
        winner: tuple[str, str] | None,
        loser: tuple[str | None, str | None, str | None],
        payload: dict[str, Any] | None,
        detail: str,
    ) -> None:
        if kind != "rejected":
            self.result.conflicts += 1
        self.conn.execute(
            "INSERT INTO sync_conflicts (table_name, record_id, kind, winner_hlc, winner_device, loser_hlc,"
            " loser_device, loser_operation, loser_payload, peer, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                table, record, kind, winner[0] if winner else None, winner[1] if winner else None,
                loser[0], loser[1], loser[2],
                None if payload is None else json.dumps(payload, ensure_ascii=False, default=str),
                self.peer, detail, self.now,
            ),
        )


__all__ = ["MergeResult", "Op", "merge"]
