"""From the turns a provider module found to one ParsedConversation.

Provider modules only find turns; ids, parent links, the share address and a fallback title
are decided here, the same way for every provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vivim.capture.share_pages.page import PROVIDER_NAMES, SavedPage, share_id
from vivim.domain.conversation import ParsedConversation, ParsedMessage
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part, message_text

_TITLE_LIMIT = 80


class NoConversationFound(Exception):
    """The page is a provider's page, but it holds no messages that could be read."""


@dataclass
class Turn:
    role: str
    parts: list[Part]
    source_id: str | None = None
    model: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    status: str = "completed"
    finish_reason: str | None = None
    parent: int | None = None
    """Index of the parent turn; None means the turn before it (pages are linear)."""
    metadata: dict[str, Any] = field(default_factory=dict)


def assemble(
    page: SavedPage,
    provider: str,
    turns: list[Turn],
    *,
    title: str | None,
    model: str | None = None,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> ParsedConversation:
    if not turns:
        raise NoConversationFound(
            f"saved {PROVIDER_NAMES[provider]} page but no messages found "
            "(was it saved before it finished loading?)"
        )
    url = page.share_url(provider)
    conv_id = share_id(url) or derived_id("share-page", provider, title or "", message_text(turns[0].parts))
    id_base = url or conv_id
    messages: list[ParsedMessage] = []
    for index, turn in enumerate(turns):
        if turn.parent is not None:
            parent = messages[turn.parent].source_id if 0 <= turn.parent < index else None
        else:
            parent = messages[-1].source_id if messages else None
        messages.append(
            ParsedMessage(
                source_id=turn.source_id or derived_id(id_base, str(index)),
                role=turn.role,
                parts=turn.parts,
                parent_source_id=parent,
                author=turn.author,
                created_at=turn.created_at,
                model=turn.model,
                status=turn.status,
                finish_reason=turn.finish_reason,
                metadata=turn.metadata,
            )
        )
    return ParsedConversation(
        provider=provider,
        source_id=conv_id,
        title=(title or "").strip() or fallback_title(turns),
        messages=messages,
        model=model,
        source_url=url,
        created_at=created_at,
        updated_at=updated_at,
        metadata={"capture": "share-page", **(metadata or {})},
    )


def fallback_title(turns: list[Turn]) -> str:
    """The first line of the first user message, for pages that show no title."""
    for turn in turns:
        if turn.role != "user":
            continue
        for line in message_text(turn.parts).splitlines():
            line = re.sub(r"^[#>\-*\s]+", "", line).strip().strip("*").strip()
            if line:
                return shorten(line, _TITLE_LIMIT)
    return "Untitled"


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def strip_suffix(title: str, *suffixes: str) -> str:
    """Drop the provider's branding from a page title ("X | Claude" -> "X")."""
    for suffix in suffixes:
        if title.endswith(suffix):
            return title[: -len(suffix)].strip()
    return title.strip()
