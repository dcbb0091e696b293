from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ConversationSummary(BaseModel):
    id: str
    provider: str
    source_id: str
    source_url: str | None
    title: str | None
    model: str | None
    version: int
    created_at: str | None = Field(description="The provider's time, ISO 8601 UTC.")
    updated_at: str | None
    captured_at: str
    message_count: int | None
    user_message_count: int | None
    ai_message_count: int | None
    total_words: int | None
    total_characters: int | None
    total_tokens: int | None
    total_code_blocks: int | None
    total_images: int | None
    total_tables: int | None
    total_latex_blocks: int | None
    total_mermaid_diagrams: int | None
    total_tool_calls: int | None


class ConversationList(BaseModel):
    items: list[ConversationSummary]
    next_cursor: str | None


class MessageOut(BaseModel):
    id: str
    source_id: str
    parent_id: str | None
    role: str
    author: str | None
    parts: list[dict[str, Any]]
    content_hash: str | None
    version: int
    created_at: str | None
    message_index: int
    status: str | None
    finish_reason: str | None
    token_count: int | None
    model: str | None
    hidden: bool
    on_current_path: bool
    metadata: dict[str, Any]


class ConversationDetail(ConversationSummary):
    content_hash: str | None
    metadata: dict[str, Any]
    messages: list[MessageOut]
