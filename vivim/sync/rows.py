"""Reading a synced record as a payload, and writing one back.

A payload is the record's row as a JSON object of its columns, without the columns each
device derives for itself (``SyncedTable.derived``: embeddings, extraction state, access
counters). BLOBs travel as ``{"$b64": "..."}``. Columns the receiving schema does not have
are dropped on write (a newer device's additions); columns the payload lacks keep their
local value, or their default on insert.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from vivim.domain.errors import InvalidInput
from vivim.store.user.migrations import SYNCED_TABLES, SyncedTable

_BY_NAME = {t.name: t for t in SYNCED_TABLES}


@dataclass
class TableInfo:
    spec: SyncedTable
    columns: tuple[str, ...]
    integer_key: bool
    shipped: tuple[str, ...]
    """The columns a payload carries."""
    blobs: frozenset[str] = frozenset()
    """Columns declared BLOB: their values arrive as {"$b64": ...}."""
    _sql: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def key_values(self, record_id: str) -> tuple[Any, ...]:
        """The key column values of a record id (see migrations._record_key)."""
        if len(self.spec.key) == 1:
            if self.integer_key:
                try:
                    return (int(record_id),)
                except ValueError:
                    raise InvalidInput(f"{self.name} ids are integers, not {record_id[:40]!r}") from None
            return (record_id,)
        try:
            values = json.loads(record_id)
        except ValueError:
            values = None
        if not isinstance(values, list) or len(values) != len(self.spec.key):
            raise InvalidInput(f"{self.name} records are keyed by {list(self.spec.key)}, not {record_id[:80]!r}")
        return tuple(values)

    def check_row(self, record_id: str, row: dict[str, Any]) -> None:
        """A row must carry the key of the record it is sent for."""
        for k, v in zip(self.spec.key, self.key_values(record_id), strict=True):
            if k not in row or row[k] != v:
                raise InvalidInput(f"the row of {self.name} {record_id[:80]!r} does not carry that key")

    def record_id(self, row: dict[str, Any]) -> str:
        if len(self.spec.key) == 1:
            return str(row[self.spec.key[0]])
        return json.dumps([row[k] for k in self.spec.key], ensure_ascii=False, separators=(",", ":"))

    def upsert_sql(self, cols: tuple[str, ...]) -> str:
        sql = self._sql.get(cols)
        if sql is None:
            key = self.spec.key
            updates = [f"{c} = excluded.{c}" for c in cols if c not in key]
            if "embedding" in self.columns:
                # A vector of different text is wrong, not just old: drop it so this
                # device's indexer computes it again.
                guard = "content_hash" if "content_hash" in self.columns else None
                for c in ("embedding", "embedding_model", "embedding_dim"):
                    if c in self.columns and c not in cols:
                        keep = f"{self.name}.{guard} IS excluded.{guard}" if guard and guard in cols else "0"
                        updates.append(f"{c} = CASE WHEN {keep} THEN {self.name}.{c} ELSE NULL END")
            conflict = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
            sql = (
                f"INSERT INTO {self.name} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})"
                f" ON CONFLICT ({', '.join(key)}) {conflict}"
            )
            self._sql[cols] = sql
        return sql


def table_infos(conn: sqlite3.Connection) -> dict[str, TableInfo]:
    """What this DB's synced tables look like now (columns may have been added since 0009)."""
    out: dict[str, TableInfo] = {}
    for spec in SYNCED_TABLES:
        info = conn.execute(f"PRAGMA table_info('{spec.name}')").fetchall()
        if not info:
            continue
        columns = tuple(r[1] for r in info)
        types = {r[1]: (r[2] or "").upper() for r in info}
        integer_key = len(spec.key) == 1 and types.get(spec.key[0]) == "INTEGER"
        shipped = tuple(c for c in columns if c not in spec.derived)
        blobs = frozenset(c for c, t in types.items() if t == "BLOB")
        out[spec.name] = TableInfo(spec, columns, integer_key, shipped, blobs)
    return out


def store_infos(store: Any, conn: sqlite3.Connection) -> dict[str, TableInfo]:
    """:func:`table_infos`, kept for as long as the store is open (its schema is migrated
    when it is opened, never while it is open)."""
    infos = store.memo.get("sync.table_infos")
    if infos is None:
        infos = store.memo["sync.table_infos"] = table_infos(conn)
    return infos


def is_synced(table: str) -> bool:
    return table in _BY_NAME


def encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"} and isinstance(value["$b64"], str):
            return base64.b64decode(value["$b64"])
        raise InvalidInput("a column value is a scalar or {\"$b64\": ...}")
    if isinstance(value, list):
        raise InvalidInput("a column value is a scalar or {\"$b64\": ...}")
    return value


def read_rows(conn: sqlite3.Connection, info: TableInfo, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The current rows of ``record_ids`` as payloads, keyed by record id (missing: absent)."""
    cols = info.shipped
    select = f"SELECT {', '.join(cols)} FROM {info.name}"
    out: dict[str, dict[str, Any]] = {}
    if len(info.spec.key) == 1:
        key = info.spec.key[0]
        keys = [info.key_values(r)[0] for r in record_ids]
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for row in conn.execute(f"{select} WHERE {key} IN ({','.join('?' * len(chunk))})", chunk):
                payload = {c: encode(v) for c, v in zip(cols, row, strict=True)}
                out[info.record_id(payload)] = payload
        return out
    where = " AND ".join(f"{k} = ?" for k in info.spec.key)
    for rid in record_ids:
        row = conn.execute(f"{select} WHERE {where}", info.key_values(rid)).fetchone()
        if row is not None:
            out[rid] = {c: encode(v) for c, v in zip(cols, row, strict=True)}
    return out


def read_row(conn: sqlite3.Connection, info: TableInfo, record_id: str) -> dict[str, Any] | None:
    return read_rows(conn, info, [record_id]).get(record_id)


def write_row(conn: sqlite3.Connection, info: TableInfo, record_id: str, payload: dict[str, Any]) -> None:
    """Insert or update the record from ``payload`` (its key must match ``record_id``)."""
    cols = tuple(c for c in info.shipped if c in payload)
    info.check_row(record_id, payload)
    conn.execute(info.upsert_sql(cols), [decode(payload[c]) for c in cols])


def delete_row(conn: sqlite3.Connection, info: TableInfo, record_id: str) -> None:
    where = " AND ".join(f"{k} = ?" for k in info.spec.key)
    conn.execute(f"DELETE FROM {info.name} WHERE {where}", info.key_values(record_id))


# When two versions differ only in these, nothing a user wrote was lost (e.g. the same
# export imported on two devices differs only in when it was captured).
BOOKKEEPING = frozenset({"captured_at", "created_at", "updated_at"})


def same_content(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two payloads agree on every column both carry, timestamps of bookkeeping aside."""
    if a is None or b is None:
        return a is b
    return all(a[c] == b[c] for c in a.keys() & b.keys() if c not in BOOKKEEPING)


__all__ = [
    "TableInfo",
    "decode",
    "delete_row",
    "encode",
    "is_synced",
    "read_row",
    "read_rows",
    "same_content",
    "table_infos",
    "write_row",
]
