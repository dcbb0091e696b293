"""The layers of a context bundle: what each may contain, how the budget is shared out,
and how each is filled within its share.

Sharing out (``allocate``) runs in three rounds over the layers in priority order: every
layer first gets up to its minimum share, then up to its ideal, then up to its maximum,
never more than it can use (its demand) and never more than is left. The user's message
is served first in each round (a context without the question is useless) and may also
take whatever the other layers leave unused, beyond its maximum share; it is rendered
last. Filling takes whole pieces in order of importance; a piece that does not fit is cut
at a token boundary only when a useful amount of room is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vivim.context.budget import count, count_cached, truncate
from vivim.context.settings import LAYER_TITLES, LAYERS, LayerShare

# Below this much room a cut piece says too little to be worth its heading.
TRUNCATE_MIN_TOKENS = 24
ROUNDS = ("min", "ideal", "max")
# After this many candidates in a row did not fit, the rest (less important) are not tried.
MAX_MISSES = 8
# A generous upper bound of characters per cl100k token on real text.
LONGEST_TOKEN_CHARS = 12


@dataclass
class Piece:
    """One line (or block) of a layer, with where it came from."""

    source: str
    id: str | None
    text: str
    score: float = 0.0
    group: str | None = None
    """Pieces of one group are rendered together under the group's header line."""
    group_header: str | None = None
    order: tuple[Any, ...] = ()
    """Reading order within the group."""
    meta: dict[str, Any] = field(default_factory=dict)
    tokens: int = -1
    truncated: bool = False

    def cost(self) -> int:
        if self.tokens < 0:
            self.tokens = count_cached(self.text)
        return self.tokens + 1  # its line break

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.source,
            "id": self.id,
            "tokens": self.tokens,
            "score": round(self.score, 4),
        }
        if self.truncated:
            d["truncated"] = True
        d.update({k: v for k, v in self.meta.items() if v is not None and not k.startswith("_")})
        return d


@dataclass
class Layer:
    name: str
    candidates: list[Piece] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    allocated: int = 0
    tokens: int = 0
    text: str = ""
    exact: bool = True
    """Whether ``tokens`` is the section's real count (else a piece-by-piece estimate)."""

    @property
    def title(self) -> str:
        return LAYER_TITLES[self.name]


def heading(title: str, style: str) -> str:
    return f"## {title}" if style == "markdown" else f"[{title}]"


def section_text(layer_name: str, pieces: list[Piece], style: str) -> str:
    """The layer as text: its heading, then its pieces, grouped under group headers (groups
    ordered by their best piece, pieces within a group in reading order)."""
    if not pieces:
        return ""
    lines = [heading(LAYER_TITLES[layer_name], style)]
    groups: dict[str | None, list[Piece]] = {}
    for p in pieces:
        groups.setdefault(p.group, []).append(p)
    for key, members in groups.items():
        if key is not None and members[0].group_header:
            lines.append(members[0].group_header)
            members = sorted(members, key=lambda p: p.order)
        lines.extend(p.text for p in members)
    return "\n".join(lines)


def demand(layer: Layer, style: str, cap: int | None = None) -> int:
    """Tokens the layer could use if it got everything it has (an upper estimate);
    counting stops once past ``cap`` (more than it may have is all the same)."""
    if not layer.candidates:
        return 0
    total = count_cached(heading(layer.title, style)) + 1
    seen: set[str | None] = set()
    for p in layer.candidates:
        if cap is not None and total > cap:
            break
        total += p.cost()
        if p.group is not None and p.group not in seen and p.group_header:
            seen.add(p.group)
            total += count_cached(p.group_header) + 1
    return total


def allocate(budget: int, shares: dict[str, LayerShare], demands: dict[str, int]) -> dict[str, int]:
    """Tokens per layer: min, then ideal, then max shares, in priority order, each capped
    by the layer's demand and by what is left. Sum never exceeds ``budget``."""
    order = ["message", *[name for name in LAYERS if name != "message"]]
    alloc = {name: 0 for name in LAYERS}
    left = budget
    for round_ in ROUNDS:
        for name in order:
            share = shares[name]
            if not share.enabled or demands.get(name, 0) <= 0:
                continue
            cap = min(demands[name], math.floor(getattr(share, round_) * budget))
            give = min(max(0, cap - alloc[name]), left)
            alloc[name] += give
            left -= give
    # What nobody could use goes to the message, whatever its maximum share: a long
    # question is better cut by nothing than by a share of an unused budget.
    if left > 0 and shares["message"].enabled and demands.get("message", 0) > alloc["message"]:
        alloc["message"] += min(left, demands["message"] - alloc["message"])
    return alloc


def fill(layer: Layer, limit: int, style: str, *, truncate_ok: bool = True) -> None:
    """Take the layer's candidates, most important first, while the section fits ``limit``
    tokens; the section's real token count is checked, not only the sum of pieces."""
    layer.pieces, layer.text, layer.tokens = [], "", 0
    if limit <= 0 or not layer.candidates:
        return
    head = count_cached(heading(layer.title, style)) + 1
    used = head
    chosen: list[Piece] = []
    opened: set[str | None] = set()
    misses = 0
    for p in layer.candidates:
        if misses >= MAX_MISSES:
            break
        if p.tokens < 0 and len(p.text) > LONGEST_TOKEN_CHARS * (limit - used):
            # Cannot fit even at the most characters a token ever spans here: no need
            # to count it exactly.
            misses += 1
            continue
        extra = 0
        if p.group is not None and p.group not in opened and p.group_header:
            extra = count_cached(p.group_header) + 1
        cost = p.cost() + extra
        if used + cost <= limit:
            chosen.append(p)
            used += cost
            if p.group is not None:
                opened.add(p.group)
            continue
        misses += 1
        room = limit - used - extra - 1
        if truncate_ok and room >= TRUNCATE_MIN_TOKENS:
            cut = truncate(p.text, room)
            if cut:
                q = Piece(
                    p.source,
                    p.id,
                    cut,
                    p.score,
                    p.group,
                    p.group_header,
                    p.order,
                    dict(p.meta),
                    truncated=True,
                )
                q.tokens = count(cut)
                chosen.append(q)
                used += q.tokens + 1 + extra
                if p.group is not None:
                    opened.add(p.group)
        # Later pieces may be smaller and still fit: keep looking.
    _settle(layer, chosen, limit, style, estimate=used)


def _settle(
    layer: Layer, chosen: list[Piece], limit: int, style: str, *, estimate: int | None = None
) -> None:
    text = section_text(layer.name, chosen, style)
    if estimate is not None and estimate <= limit:
        # Counted piece by piece; ``settle_exactly`` counts the section once at the end
        # (a layer may be refilled with more room before then).
        layer.pieces, layer.text, layer.tokens, layer.exact = chosen, text, estimate, False
        return
    tokens = count(text)
    while chosen and tokens > limit:
        chosen.pop()
        text = section_text(layer.name, chosen, style)
        tokens = count(text)
    layer.pieces, layer.text, layer.tokens, layer.exact = chosen, text, tokens, True


def settle_exactly(layer: Layer, style: str) -> None:
    """The section's real token count, and pieces dropped if it exceeds the allocation."""
    if not layer.exact:
        _settle(layer, list(layer.pieces), layer.allocated, style)


def set_pieces(layer: Layer, pieces: Iterable[Piece], limit: int, style: str) -> None:
    """Use exactly these pieces (already fitted by the caller), dropping from the end if
    the section would still exceed ``limit``."""
    _settle(layer, list(pieces), limit, style)
