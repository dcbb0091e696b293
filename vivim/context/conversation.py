"""The conversation layer: the current conversation verbatim when it fits, else its
latest messages verbatim and everything before them as a compaction."""

from __future__ import annotations

import math
import sqlite3

from vivim.context.budget import count, truncate
from vivim.context.compaction import Compaction, compaction_for
from vivim.context.layers import TRUNCATE_MIN_TOKENS, Layer, Piece, heading, set_pieces
from vivim.context.sources import Turn

# The compacted stretch ends on a multiple of this many messages, so a growing
# conversation reuses its stored compaction for a while instead of making a new one per turn.
BLOCK = 8


def turn_pieces(turns: list[Turn]) -> list[Piece]:
    return [
        Piece(
            "message",
            t.id,
            f"{t.author or t.role}: {t.text.strip()}",
            1.0,
            order=(t.index,),
            meta={"message_index": t.index, "message_source_id": t.source_id, "role": t.role},
        )
        for t in turns
        if t.text.strip()
    ]


def fill_conversation(
    layer: Layer,
    conn: sqlite3.Connection,
    conversation_id: str,
    turns: list[Turn],
    limit: int,
    style: str,
    keep_recent_share: float,
) -> Compaction | None:
    """Fill ``layer`` within ``limit`` tokens; returns the compaction used, if any."""
    pieces = [p for p in layer.candidates if p.source == "message"]
    head = count(heading(layer.title, style)) + 1
    if limit <= head:
        set_pieces(layer, [], limit, style)
        return None
    if head + sum(p.cost() for p in pieces) <= limit:
        set_pieces(layer, pieces, limit, style)
        return None
    room = limit - head
    recent: list[Piece] = []
    used = 0
    for p in reversed(pieces):
        if used + p.cost() > room * keep_recent_share:
            break
        recent.insert(0, p)
        used += p.cost()
    if not recent and pieces:
        # Even the last message alone is too long: its beginning, cut to fit.
        cut = truncate(pieces[-1].text, max(0, int(room * keep_recent_share) - 1))
        if count(cut) >= min(TRUNCATE_MIN_TOKENS, room):
            last = pieces[-1]
            recent = [
                Piece(
                    last.source,
                    last.id,
                    cut,
                    last.score,
                    order=last.order,
                    meta=dict(last.meta),
                    truncated=True,
                )
            ]
            used = count(cut) + 1
    k = len(pieces) - len(recent)
    if k <= 0:
        set_pieces(layer, recent, limit, style)
        return None
    # Round the compacted stretch up to a block boundary (its messages leave the verbatim part).
    k_block = math.ceil(k / BLOCK) * BLOCK
    if k_block >= len(pieces):  # rounding would leave nothing verbatim: keep the exact split
        k_block = k
    if k_block > k:
        dropped = pieces[k:k_block]
        recent = [p for p in recent if p not in dropped]
        used = sum(p.cost() for p in recent)
        k = k_block
    by_id = {t.id: t for t in turns}
    compacted_turns = [by_id[p.id] for p in pieces[:k] if p.id in by_id]
    left = room - used - 1
    compaction = None
    chosen = list(recent)
    if compacted_turns and left >= TRUNCATE_MIN_TOKENS:
        compaction = compaction_for(conn, conversation_id, compacted_turns, max_tokens=left, write=False)
        text = compaction.render(markdown=style == "markdown")
        if count(text) > left:
            text = truncate(text, left)
        if text:
            chosen.insert(
                0,
                Piece(
                    "compaction",
                    compaction.id,
                    text,
                    1.0,
                    meta={
                        "from_message_index": compaction.from_message_index,
                        "to_message_index": compaction.to_message_index,
                        "original_tokens": compaction.original_tokens,
                        "compression_ratio": compaction.compression_ratio,
                    },
                ),
            )
    set_pieces(layer, chosen, limit, style)
    return compaction
