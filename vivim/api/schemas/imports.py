from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from vivim.api.schemas.stats import AttemptOut


class UploadedFile(BaseModel):
    name: str
    size: int


class ConversationCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    failed: int


class MessageCounts(BaseModel):
    new: int
    changed: int


class ImportError_(BaseModel):
    source: str
    record: str
    code: str
    message: str


class FileResult(BaseModel):
    source: str
    format: str | None
    status: str
    conversations: ConversationCounts
    messages: MessageCounts
    errors: list[dict[str, Any]]
    duration_ms: int


class ImportJobSummary(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "partial", "failed"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    provider: str | None
    files: list[UploadedFile]
    bytes_uploaded: int
    bytes_total: int = Field(description="Bytes to parse (archive members uncompressed).")
    bytes_read: int
    current_file: str | None
    conversations: ConversationCounts
    messages: MessageCounts
    error_count: int


class ImportJobOut(ImportJobSummary):
    results: list[FileResult] = Field(description="One entry per imported input, as each finishes.")
    errors: list[ImportError_] = Field(description="The first 100 errors.")
    attempts: list[AttemptOut] = Field(description="The first 100 capture attempts this job made.")
    attempts_next_cursor: str | None = Field(description="Page on through /imports/{id}/attempts.")


class ImportJobList(BaseModel):
    items: list[ImportJobSummary]
    next_cursor: str | None


class AttemptList(BaseModel):
    items: list[AttemptOut]
    next_cursor: str | None
