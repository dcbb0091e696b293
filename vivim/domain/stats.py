"""Conversation counters (the seeds' Conversation statistics), computed from parts."""

from __future__ import annotations

from vivim.domain.parts import Part

COUNTERS = (
    "message_count",
    "user_message_count",
    "ai_message_count",
    "total_words",
    "total_characters",
    "total_tokens",
    "total_code_blocks",
    "total_images",
    "total_tables",
    "total_latex_blocks",
    "total_mermaid_diagrams",
    "total_tool_calls",
)

# Part type -> the counter it feeds.
_PART_COUNTERS = {
    "code": "total_code_blocks",
    "image": "total_images",
    "table": "total_tables",
    "latex": "total_latex_blocks",
    "mermaid": "total_mermaid_diagrams",
    "tool_call": "total_tool_calls",
}


def empty_counters() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


def count_message(counters: dict[str, int], *, role: str, text: str, tokens: int, parts: list[Part]) -> None:
    """Add one message to ``counters``. Words and characters count the message's readable
    text (``parts.message_text``); tokens are cl100k tokens of that text."""
    counters["message_count"] += 1
    if role == "user":
        counters["user_message_count"] += 1
    elif role == "assistant":
        counters["ai_message_count"] += 1
    counters["total_words"] += len(text.split())
    counters["total_characters"] += len(text)
    counters["total_tokens"] += tokens
    for part in parts:
        key = _PART_COUNTERS.get(part.get("type"))  # type: ignore[arg-type]
        if key:
            counters[key] += 1
