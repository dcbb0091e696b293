"""Sync: operations, pages, push results, status, conflicts, presence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class SyncOp(BaseModel):
    table: str = Field(description="A synced user-DB table (docs/SYNC.md).")
    record: str = Field(description="The record's key: its id, or a JSON array for composite keys.")
    operation: Literal["insert", "update", "delete"]
    hlc: str = Field(description="Hybrid logical clock: 13 digits of Unix ms, '-', 6 digits of counter.")
    device: str = Field(description="The sync id of the device (vault) that made this version.")
    seq: int = Field(ge=0, le=2**63 - 1, description="The sender's log position.")
    row: dict[str, Any] | None = Field(description="The record's columns; null for a delete. BLOBs as {\"$b64\": ...}.")


class PullPage(BaseModel):
    ops: list[SyncOp]
    next: int = Field(description="Pass as `since` next time (the cursor).")
    more: bool = Field(description="True when another page follows right away.")
    node: str = Field(description="The server vault's sync id.")
    clock: str = Field(description="The server's clock now.")


class PushBody(BaseModel):
    """Sent gzipped (`Content-Encoding: gzip`) or plain; at most 1 MiB on the wire."""

    node: str = Field(max_length=64, description="The pushing device's sync id.")
    seen: int = Field(default=0, ge=0, le=2**63 - 1, description="The server seq this device has pulled up to.")
    ops: list[SyncOp]


class PushResult(BaseModel):
    applied: int
    skipped: int = Field(description="Already here, or older than what is here.")
    rejected: int = Field(description="Refused: unknown table, bad row, or a clock too far ahead.")
    conflicts: int = Field(description="Concurrent versions settled (see /sync/conflicts).")
    max_hlc: str | None
    errors: list[str]


class SyncStatus(BaseModel):
    node: str
    clock: str
    seq: int = Field(description="The server's latest log position.")
    records: int | None = Field(default=None, description="With `counts=true`.")
    tombstones: int | None = None
    conflicts: int | None = None
    pulled: int = Field(description="What this device has acknowledged pulling.")
    pushed: int = Field(description="This device's log position received so far.")


class Conflict(BaseModel):
    id: int
    table_name: str
    record_id: str
    kind: Literal["overwritten", "discarded", "rejected", "duplicate_key"]
    winner_hlc: str | None
    winner_device: str | None
    loser_hlc: str | None
    loser_device: str | None
    loser_operation: str | None
    loser_payload: str | None = Field(description="The losing version's row as JSON (what was overwritten).")
    peer: str | None
    detail: str
    created_at: str


class ConflictList(BaseModel):
    items: list[Conflict]


class PresenceIn(BaseModel):
    status: Literal["online", "away", "offline"] = "online"
    active_conversation_id: str | None = Field(default=None, max_length=64)
    visible_items: list[str] = Field(default_factory=list, max_length=200)


class PresenceOut(BaseModel):
    device_id: str
    status: str
    active_conversation_id: str | None
    visible_items: list[str]
    last_seen_at: str
    bundle_id: str | None = Field(description="The context bundle built ahead for the active conversation.")
    metadata: dict[str, Any]


class PresenceList(BaseModel):
    items: list[PresenceOut]
