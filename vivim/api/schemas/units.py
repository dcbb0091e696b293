from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UnitOut(BaseModel):
    # Units gain fields as the units feature grows; unknown ones pass through.
    model_config = ConfigDict(extra="allow")

    id: str
    author_did: str
    content: str
    content_hash: str | None
    version: int | None
    language: str | None
    type: str
    category: str
    conversation_id: str | None
    message_id: str | None
    message_index: int | None
    parent_id: str | None
    provider: str | None
    model: str | None
    source_timestamp: str | None
    quality_overall: float | None
    created_at: str
    metadata: dict[str, Any]
    tags: list[Any]
    signature: str | None
    message_source_id: str | None


class UnitList(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None


class LinkOut(BaseModel):
    id: str
    source_id: str
    target_id: str
    relation: str
    weight: float
    created_by_did: str | None
    created_at: str
    metadata: dict[str, Any]
    direction: str


class LinkList(BaseModel):
    items: list[LinkOut]
