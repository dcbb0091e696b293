"""Links between units (relations and weights documented in docs/UNITS.md).

- ``next``: reading order within a conversation, following the message tree (a branch point
  has one ``next`` per branch). Weight 1.
- ``answered_by``: a question unit -> the first answer unit of each reply to its message.
  Weight 0.25 + 0.75 * (share of the question's content words the answer contains).
- ``explains``: a paragraph -> the code (formula, table, diagram) block it introduces. Weight 1.
- ``related``: across conversations, from embedding neighbours above
  :data:`RELATED_THRESHOLD`. Weight = cosine similarity.
- ``derived_from``: a remix or copy -> its original. Weight = shingle Jaccard similarity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vivim.units.classify import PHATIC, STOPWORDS, words_of
from vivim.units.extract import UnitDraft
from vivim.units.neardup import jaccard

RELATED_THRESHOLD = 0.6
"""Cosine similarity (all-MiniLM-L6-v2, L2-normalised vectors) from which two units of
different conversations are linked as ``related``; how it was chosen is in docs/UNITS.md."""

ANSWER_FLOOR = 0.25
"""The weight of an ``answered_by`` link whose answer repeats none of the question's words:
the pairing itself is certain, only how directly the answer addresses it is not."""

_NOT_ANSWERS = frozenset({"thought", "tool_use"})


@dataclass(slots=True)
class LinkDraft:
    source_id: str
    target_id: str
    relation: str
    weight: float
    metadata: dict[str, Any] = field(default_factory=dict)


def _stem(word: str) -> str:
    # Just enough folding that "files"/"file", "enabled"/"enable" and "compiling"/"compile"
    # meet; a stem keeps at least three letters.
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content_stems(text: str) -> set[str]:
    return {_stem(w) for w in words_of(text) if len(w) > 1 and w not in STOPWORDS and w not in PHATIC}


def coverage(question: str, answer: str) -> float:
    """Share of the question's content words (stopwords and phatic words aside, lightly
    stemmed) that occur in the answer; 0.0 when the question has none."""
    asked = _content_stems(question)
    if not asked:
        return 0.0
    return len(asked & _content_stems(answer)) / len(asked)


def structural_links(units: Sequence[UnitDraft]) -> list[LinkDraft]:
    """``next``, ``answered_by`` and ``explains`` links among one conversation's units
    (as :func:`vivim.units.extract.extract_conversation` returns them)."""
    by_message: dict[str | None, list[UnitDraft]] = {}
    for u in sorted(units, key=lambda u: (u.message_index or 0, u.position)):
        by_message.setdefault(u.message_id, []).append(u)
    out: list[LinkDraft] = []

    # next: within a message, then from a message's last unit to the first unit of each
    # message that follows it in the tree.
    for message_units in by_message.values():
        for a, b in zip(message_units, message_units[1:], strict=False):
            out.append(LinkDraft(a.id, b.id, "next", 1.0))
        first = message_units[0]
        follows = first.metadata.get("follows")
        if follows is not None and follows in by_message:
            out.append(
                LinkDraft(by_message[follows][-1].id, first.id, "next", 1.0, {"across_messages": True})
            )

    # answered_by: every question unit of a user message -> the first answer unit of each
    # reply branch (a regenerated reply is another branch).
    first_answer: dict[str, dict[str, UnitDraft]] = {}
    fallback: dict[str, dict[str, UnitDraft]] = {}
    for message_units in by_message.values():
        for u in message_units:
            reply_to = u.metadata.get("reply_to")
            if reply_to is None:
                continue
            branch = u.metadata.get("reply_branch") or u.message_id or ""
            if u.type == "answer":
                first_answer.setdefault(reply_to, {}).setdefault(branch, u)
            elif u.type not in _NOT_ANSWERS:
                fallback.setdefault(reply_to, {}).setdefault(branch, u)
    for message_id, message_units in by_message.items():
        questions = [u for u in message_units if u.type == "question"]
        if not questions or message_id is None:
            continue
        targets = dict(fallback.get(message_id, {}))
        targets.update(first_answer.get(message_id, {}))
        for q in questions:
            for target in sorted(targets.values(), key=lambda u: (u.message_index or 0, u.position)):
                c = coverage(q.content, target.content)
                out.append(
                    LinkDraft(
                        q.id,
                        target.id,
                        "answered_by",
                        round(ANSWER_FLOOR + (1.0 - ANSWER_FLOOR) * c, 4),
                        {"coverage": round(c, 4)},
                    )
                )

    # explains: the paragraph that announces a block -> the block.
    for message_units in by_message.values():
        by_position = {u.position: u for u in message_units}
        for u in message_units:
            intro = u.metadata.get("intro_position")
            if isinstance(intro, int) and intro in by_position:
                out.append(LinkDraft(by_position[intro].id, u.id, "explains", 1.0))
    return out


def related_links(
    unit_id: str,
    conversation_id: str | None,
    neighbours: Iterable[tuple[str, str | None, float]],
    *,
    threshold: float = RELATED_THRESHOLD,
    model: str | None = None,
) -> list[LinkDraft]:
    """``related`` links of one unit from its embedding neighbours.

    ``neighbours`` are ``(unit id, conversation id, cosine similarity)`` as the vector index
    returns them. Kept: similarity >= ``threshold``, another conversation (units of one
    conversation are already linked by structure), not the unit itself. ``related`` is
    symmetric, so each pair is written once, from the smaller id to the larger, and the
    same pair found from either side lands on the same row."""
    out: list[LinkDraft] = []
    seen: set[str] = set()
    for other_id, other_conversation, similarity in neighbours:
        if other_id == unit_id or other_id in seen or similarity < threshold:
            continue
        if conversation_id is not None and other_conversation == conversation_id:
            continue
        seen.add(other_id)
        source, target = (unit_id, other_id) if unit_id < other_id else (other_id, unit_id)
        meta: dict[str, Any] = {"method": "embedding"}
        if model:
            meta["model"] = model
        out.append(LinkDraft(source, target, "related", round(float(similarity), 4), meta))
    return out


def derived_from_link(copy: UnitDraft, original_id: str, original_content: str | None = None) -> LinkDraft:
    """The ``derived_from`` link of a unit copied or remixed from another (``copy`` ->
    original). Weight: the Jaccard similarity of their word 3-shingles (1.0 for a verbatim
    copy), or 1.0 when the original's content is not at hand."""
    weight = 1.0 if original_content is None else jaccard(copy.content, original_content)
    return LinkDraft(copy.id, original_id, "derived_from", round(weight, 4), {"similarity": round(weight, 4)})
