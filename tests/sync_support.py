"""Helpers for the sync tests (no tests here): user DBs without a master, and comparing
every synced row of two vaults."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from vivim.store.user.db import UserStore, create_database, open_store, stamp_owner
from vivim.sync.client import LocalPeer, SyncReport, sync
from vivim.sync.rows import table_infos

USER_ID = "0123456789abcdef0123456789abcdef"
DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def make_store(folder: Path, name: str) -> UserStore:
    path = folder / f"{name}.sqlite"
    create_database(path)
    stamp_owner(path, USER_ID, DID)
    return open_store(path, USER_ID)


def synced_rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every synced table (the columns that travel), in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, info in table_infos(conn).items():
        cols = ", ".join(info.shipped)
        out[name] = conn.execute(f"SELECT {cols} FROM {name} ORDER BY {', '.join(info.spec.key)}").fetchall()
    return out


def snapshot(store: UserStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.read() as conn:
        return synced_rows(conn)


def hub_sync(device: UserStore, server: UserStore, device_id: str, *, page_size: int = 1000) -> SyncReport:
    return sync(device, LocalPeer(server, device_id), page_size=page_size)


def add_fact(store: UserStore, fact_id: str, content: str, *, when: str = "2026-01-01T00:00:00Z") -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO user_facts (id, content, content_hash, created_at, updated_at) VALUES (?,?,?,?,?)",
            (fact_id, content, "h:" + content, when, when),
        )
