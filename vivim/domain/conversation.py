"""What a parser produces: provider-neutral conversations and messages.

These values carry the provider's own ids (``source_id``), never vivim's storage ids; the
store derives stable ids from them so re-importing lands on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vivim.domain.parts import Part

ROLES = frozenset({"user", "assistant", "system", "tool"})


@dataclass(slots=True)
class ParsedMessage:
    source_id: str
    """The provider's message id (or a stable one derived from the record when it has none)."""
    role: str
    parts: list[Part]
    parent_source_id: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    model: str | None = None
    status: str = "completed"
    finish_reason: str | None = None
    hidden: bool = False
    """Messages the provider's UI does not show (system prompts, tool plumbing)."""
    on_current_path: bool = True
    """False for messages only on an abandoned branch (an edited or regenerated turn)."""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParsedConversation:
    provider: str
    source_id: str
    """The provider's conversation id."""
    title: str
    messages: list[ParsedMessage]
    model: str | None = None
    source_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    custom_instructions: list[str] = field(default_factory=list)
    """User-level instructions found in the export (e.g. ChatGPT user_editable_context)."""


@dataclass(slots=True)
class RecordError:
    """One record of an input that could not be parsed; the others still import."""

    source: str
    """The file (and member, for archives) the record came from."""
    record: str
    """Which record: its index and, when known, its id or title."""
    message: str
    code: str = "parse_error"
