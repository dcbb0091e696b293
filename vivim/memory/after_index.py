"""What `vivim index` does after units are indexed: memories from new conversations.

Kept here so the indexer needs one call and knows nothing about memories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vivim.memory.instructions import land_export_instructions
from vivim.memory.pipeline import ExtractReport, extract_memories

if TYPE_CHECKING:
    from vivim.app import UserRecord, Vivim


def after_index(vivim: Vivim, user: UserRecord, *, embed: bool = True) -> dict[str, Any]:
    """Extract memories from conversations new or changed since the last run (vectors with
    the vivim embedder when ``embed``), and land custom instructions found in exports.
    Returns a small JSON-able report; failures are reported, never raised, so indexing
    itself always succeeds."""
    store = vivim.store(user)
    try:
        report = extract_memories(store, embedder=vivim.embedder if embed else None)
        instructions = (
            land_export_instructions(store, report.conversation_ids) if report.conversation_ids else 0
        )
    except Exception as exc:  # memories are a bonus on top of the index, never its failure
        return {"memories": ExtractReport(errors=[f"{type(exc).__name__}: {exc}"]).to_json(), "instructions": 0}
    return {"memories": report.to_json(), "instructions": instructions}


__all__ = ["after_index"]
