"""Request and response shapes of the context routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ContextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=100_000, description="The message to build context for.")
    budget: int | None = Field(
        default=None,
        ge=16,
        le=200_000,
        description="Token budget (cl100k); default from the user's settings.",
    )
    conversation_id: str | None = Field(
        default=None, max_length=128, description="The conversation the message belongs to."
    )
    persona: str | None = Field(default=None, max_length=200, description="A persona, by name.")
    format: Literal["text", "markdown"] = Field(
        default="markdown", description="How the content is written (the budget applies to exactly it)."
    )
    use_cache: bool = Field(
        default=True, description="Serve a cached bundle while its sources are unchanged."
    )


class BundleOut(BaseModel):
    id: str
    content: str
    total_tokens: int
    budget: int
    style: str
    conversation_id: str | None
    persona_id: str | None
    cached: bool
    created_at: str
    expires_at: str | None
    composition: dict[str, Any] = Field(
        description="Per layer: shares, allocated and used tokens, and every item with its source and id."
    )


class LayerShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = Field(default=None, ge=0, le=1)
    ideal: float | None = Field(default=None, ge=0, le=1)
    max: float | None = Field(default=None, ge=0, le=1)
    enabled: bool | None = None


class ContextSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str | None = Field(
        default=None, max_length=32, description="Start from this preset (drops earlier overrides)."
    )
    max_context_tokens: int | None = Field(default=None, ge=16, le=200_000)
    similarity_threshold: float | None = Field(default=None, ge=0, le=1)
    layer_overrides: dict[str, LayerShareIn] | None = None
    exclusions: dict[str, list[str]] | None = None
    extra: dict[str, Any] | None = None


class ContextSettingsOut(BaseModel):
    preset: str
    max_context_tokens: int
    similarity_threshold: float
    layer_overrides: dict[str, dict[str, Any]]
    exclusions: dict[str, list[str]]
    extra: dict[str, Any]
    layers: dict[str, dict[str, Any]] = Field(
        description="The effective shares: the preset with the overrides."
    )


class PresetOut(BaseModel):
    name: str
    description: str
    max_context_tokens: int
    similarity_threshold: float
