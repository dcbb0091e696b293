from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ProviderStatsOut(BaseModel):
    provider: str
    total_captures: int
    successful_captures: int
    failed_captures: int
    avg_duration: float | None
    avg_message_count: float | None
    avg_token_count: float | None
    total_messages: int
    total_code_blocks: int
    total_images: int
    total_tool_calls: int
    last_capture_at: datetime | None


class AttemptOut(BaseModel):
    id: str
    source_url: str
    provider: str | None
    status: str
    error_code: str | None
    error_message: str | None
    started_at: datetime
    completed_at: datetime | None
    duration: int | None
    ip_address: str | None
    conversation_id: str | None
    retry_count: int
    retry_of: str | None
    created_at: datetime


class UnitCounts(BaseModel):
    total: int
    embedded: int


class StatsOut(BaseModel):
    conversations: dict[str, int]
    total_conversations: int
    units: UnitCounts
    providers: list[ProviderStatsOut]
    recent_attempts: list[AttemptOut]


class HealthOut(BaseModel):
    status: str
    version: str
    master: str
