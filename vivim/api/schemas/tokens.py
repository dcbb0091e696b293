from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ApiTokenOut(BaseModel):
    id: str
    name: str
    token_prefix: str = Field(description="The first characters of the token, to tell tokens apart.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token itself. Shown this once; only its hash is kept.")


class ApiTokenList(BaseModel):
    items: list[ApiTokenOut]
    next_cursor: str | None


class ApiTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255, description="What the token is for.")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Never expires when omitted.")
