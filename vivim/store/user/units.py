"""Atomic chat units in a user DB: writing a conversation's units, the full-text index,
embeddings, and reading units and links back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vivim.domain.times import date_words

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class UnitLike(Protocol):
    """What the store needs of a unit draft (``vivim.units.extract.UnitDraft`` has it)."""

    id: str
    content: str
    content_hash: str
    type: str
    category: str
    language: str | None
    conversation_id: str | None
    message_id: str | None
    message_index: int | None
    parent_id: str | None
    provider: str | None
    model: str | None
    source_timestamp: str | None
    extractor_version: str | None
    parser_version: str | None
    role: str | None
    position: int
    metadata: dict[str, Any]
    tags: list[str]
    quality_overall: float | None
    content_richness: float | None
    structural_integrity: float | None
    uniqueness: float | None
    rediscovery_score: float | None


@dataclass(slots=True)
class LinkRow:
    source_id: str
    target_id: str
    relation: str
    weight: float
    metadata: dict[str, Any]


_UNIT_COLUMNS = (
    "id, author_did, signature, content, content_hash, language, type, category, conversation_id,"
    " message_id, message_index, parent_id, provider, model, source_timestamp, extractor_version,"
    " parser_version, quality_overall, content_richness, structural_integrity, uniqueness,"
    " rediscovery_score, created_at, indexed_at, metadata, tags, role, author, position, index_text"
)
_INSERT_UNIT = f"INSERT INTO atomic_chat_units ({_UNIT_COLUMNS}) VALUES ({','.join('?' * 30)})"


def search_generation(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM vault_meta WHERE key = 'search_generation'").fetchone()
    return row[0] if row else "0"


def bump_search_generation(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO vault_meta (key, value) VALUES ('search_generation', '1')"
        " ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def conversation_unit_ids(conn: sqlite3.Connection, conversation_id: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT id FROM atomic_chat_units WHERE conversation_id = ?", (conversation_id,)
        )
    }


def delete_units(conn: sqlite3.Connection, unit_ids: Sequence[str]) -> None:
    """Delete units and their full-text entries (a contentless FTS index needs the indexed
    text back to remove it)."""
    for i in range(0, len(unit_ids), 500):
        chunk = list(unit_ids[i : i + 500])
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT r.rowid, u.index_text, u.source_timestamp FROM unit_search_rows r"
            f" JOIN atomic_chat_units u ON u.id = r.unit_id WHERE r.unit_id IN ({marks})",
            chunk,
        ).fetchall()
        conn.executemany(
            "INSERT INTO unit_fts (unit_fts, rowid, own, date) VALUES ('delete', ?, ?, ?)",
            [(rowid, text or "", date_words(ts)) for rowid, text, ts in rows],
        )
        conn.execute(f"DELETE FROM atomic_chat_units WHERE id IN ({marks})", chunk)


def insert_units(
    conn: sqlite3.Connection,
    units: Sequence[UnitLike],
    *,
    author_did: str,
    signatures: Sequence[bytes | None],
    authors: Sequence[str | None],
    index_texts: Sequence[str],
    created_at: str,
) -> None:
    conn.executemany(
        _INSERT_UNIT,
        [
            (
                u.id,
                author_did,
                sig,
                u.content,
                u.content_hash,
                u.language,
                u.type,
                u.category,
                u.conversation_id,
                u.message_id,
                u.message_index,
                u.parent_id,
                u.provider,
                u.model,
                u.source_timestamp,
                u.extractor_version,
                u.parser_version,
                u.quality_overall,
                u.content_richness,
                u.structural_integrity,
                u.uniqueness,
                u.rediscovery_score,
                created_at,
                created_at,
                _dumps(u.metadata) if u.metadata else "{}",
                _dumps(u.tags) if u.tags else "[]",
                u.role,
                author,
                u.position,
                text,
            )
            for u, sig, author, text in zip(units, signatures, authors, index_texts, strict=True)
        ],
    )
    conn.executemany("INSERT INTO unit_search_rows (unit_id) VALUES (?)", [(u.id,) for u in units])
    ids = [u.id for u in units]
    rowids: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rowids.update(
            conn.execute(
                f"SELECT unit_id, rowid FROM unit_search_rows WHERE unit_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        )
    conn.executemany(
        "INSERT INTO unit_fts (rowid, own, date) VALUES (?, ?, ?)",
        [
            (rowids[u.id], text, date_words(u.source_timestamp))
            for u, text in zip(units, index_texts, strict=True)
        ],
    )


def insert_links(
    conn: sqlite3.Connection, links: Iterable[LinkRow], *, created_by_did: str | None, created_at: str
) -> None:
    from vivim.domain.ids import derived_id

    conn.executemany(
        "INSERT OR IGNORE INTO acu_links (id, source_id, target_id, relation, weight, created_by_did, created_at,"
        " metadata) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                derived_id("link", link.source_id, link.target_id, link.relation),
                link.source_id,
                link.target_id,
                link.relation,
                link.weight,
                created_by_did,
                created_at,
                _dumps(link.metadata) if link.metadata else "{}",
            )
            for link in links
        ],
    )


def set_units_state(conn: sqlite3.Connection, conversation_id: str, state: str) -> None:
    conn.execute("UPDATE conversations SET units_state = ? WHERE id = ?", (state, conversation_id))


def conversations_needing_units(conn: sqlite3.Connection, extractor_version: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM conversations WHERE units_state IS NULL OR units_state != content_hash || ':' || ?"
            " ORDER BY captured_at, id",
            (extractor_version,),
        )
    ]


def count_units(conn: sqlite3.Connection) -> tuple[int, int]:
    """(all units, units with an embedding)."""
    total = conn.execute("SELECT COUNT(*) FROM atomic_chat_units").fetchone()[0]
    missing = conn.execute("SELECT COUNT(*) FROM atomic_chat_units WHERE embedding IS NULL").fetchone()[0]
    return total, total - missing


def conversations_needing_embeddings(conn: sqlite3.Connection, limit: int) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT conversation_id FROM atomic_chat_units WHERE embedding IS NULL"
            " AND conversation_id IS NOT NULL LIMIT ?",
            (limit,),
        )
    ]


def units_in_reading_order(
    conn: sqlite3.Connection, conversation_id: str
) -> list[tuple[str, str, str, bool]]:
    """(unit id, speaker, indexed text, has an embedding) in reading order."""
    return [
        (r[0], r[1] or "", r[2] or "", bool(r[3]))
        for r in conn.execute(
            "SELECT id, COALESCE(author, role), COALESCE(index_text, content), embedding IS NOT NULL"
            " FROM atomic_chat_units WHERE conversation_id = ? ORDER BY message_index, position, id",
            (conversation_id,),
        )
    ]


def clear_embeddings(conn: sqlite3.Connection, conversation_id: str) -> None:
    """Vectors include neighbouring units; when a conversation's units change, all of its
    vectors are recomputed."""
    conn.execute(
        "UPDATE atomic_chat_units SET embedding = NULL WHERE conversation_id = ?", (conversation_id,)
    )


def store_embeddings(
    conn: sqlite3.Connection, rows: Sequence[tuple[str, bytes]], *, model: str, dim: int
) -> None:
    conn.executemany(
        "UPDATE atomic_chat_units SET embedding = ?, embedding_model = ?, embedding_dim = ? WHERE id = ?",
        [(blob, model, dim, uid) for uid, blob in rows],
    )


# -- reading --------------------------------------------------------------------------------
_READ_COLUMNS = (
    "u.id, u.author_did, u.content, u.content_hash, u.version, u.language, u.type, u.category,"
    " u.conversation_id, u.message_id, u.message_index, u.parent_id, u.provider, u.model,"
    " u.source_timestamp, u.extractor_version, u.parser_version, u.quality_overall, u.content_richness,"
    " u.structural_integrity, u.uniqueness, u.rediscovery_score, u.view_count, u.share_count,"
    " u.quote_count, u.sharing_policy, u.sharing_circles, u.created_at, u.indexed_at, u.metadata, u.tags,"
    " u.role, u.author, u.position, u.embedding_model, u.embedding_dim, u.signature,"
    " m.source_id AS message_source_id"
)


def _unit_dict(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    d = {c[0]: v for c, v in zip(cur.description, row, strict=True)}
    for key in ("metadata", "sharing_circles", "tags"):
        d[key] = json.loads(d[key]) if d[key] else ({} if key == "metadata" else [])
    sig = d.pop("signature")
    d["signature"] = sig.hex() if sig else None
    return d


def get_unit(conn: sqlite3.Connection, unit_id: str) -> dict[str, Any] | None:
    cur = conn.execute(
        f"SELECT {_READ_COLUMNS} FROM atomic_chat_units u LEFT JOIN messages m ON m.id = u.message_id WHERE u.id = ?",
        (unit_id,),
    )
    row = cur.fetchone()
    return _unit_dict(cur, row) if row else None


def list_units(
    conn: sqlite3.Connection,
    *,
    conversation_id: str | None = None,
    type: str | None = None,
    limit: int = 50,
    after: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Units newest first; ``after`` is the (created_at, id) of the last one seen."""
    where, params = [], []
    if conversation_id:
        where.append("u.conversation_id = ?")
        params.append(conversation_id)
    if type:
        where.append("u.type = ?")
        params.append(type)
    if after:
        where.append("(u.created_at, u.id) < (?, ?)")
        params.extend(after)
    sql = f"SELECT {_READ_COLUMNS} FROM atomic_chat_units u LEFT JOIN messages m ON m.id = u.message_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = "u.message_index, u.id" if conversation_id else "u.created_at DESC, u.id DESC"
    sql += f" ORDER BY {order} LIMIT ?"
    params.append(limit)
    cur = conn.execute(sql, params)
    return [_unit_dict(cur, r) for r in cur.fetchall()]


def get_links(conn: sqlite3.Connection, unit_id: str) -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT id, source_id, target_id, relation, weight, created_by_did, created_at, metadata FROM acu_links"
        " WHERE source_id = ? OR target_id = ? ORDER BY relation, weight DESC",
        (unit_id, unit_id),
    )
    out = []
    for r in cur.fetchall():
        d = {c[0]: v for c, v in zip(cur.description, r, strict=True)}
        d["metadata"] = json.loads(d["metadata"] or "{}")
        d["direction"] = "out" if d["source_id"] == unit_id else "in"
        out.append(d)
    return out


def signed_fields(
    conn: sqlite3.Connection, unit_id: str | None = None
) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    """(the unit's signed columns, its signature) for one unit or all, oldest first."""
    sql = (
        "SELECT id, author_did, content, content_hash, type, category, conversation_id, message_id, created_at,"
        " signature FROM atomic_chat_units"
    )
    cur = (
        conn.execute(sql + " WHERE id = ?", (unit_id,))
        if unit_id
        else conn.execute(sql + " ORDER BY created_at, id")
    )
    cols = [c[0] for c in cur.description][:-1]
    for row in cur:
        yield dict(zip(cols, row[:-1], strict=True)), row[-1]
