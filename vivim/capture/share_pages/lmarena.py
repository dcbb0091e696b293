"""LMArena chats (lmarena.ai/c/<id>).

The conversation is an ``<ol>`` laid out with ``flex-col-reverse``: newest first in the
markup. A prompt is a right-aligned ``self-end`` block; the answer to it is either a
carousel of two slides (battle / side-by-side: one model per slide, left then right) or a
single response. Each side becomes its own assistant message with ``author`` and ``model``
set to the model name; both answer the same prompt, so both point to it as parent. A side
that failed shows an error instead of text and is kept with ``status="error"``.
"""

from __future__ import annotations

from vivim.capture.share_pages.build import Turn, assemble
from vivim.capture.share_pages.dom import Converter
from vivim.capture.share_pages.nodes import Node, classes, element_children, find, find_all, normalize_space
from vivim.capture.share_pages.page import SavedPage
from vivim.domain.conversation import ParsedConversation

PROVIDER = "lmarena"
_SIDES = "AB"


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    last_prompt: int | None = None
    for item in reversed(_conversation_items(page)):
        if "self-end" in classes(item):
            prose = find(item, ".prose") or item
            parts = Converter(base_url=base).parts(prose)
            if parts:
                turns.append(Turn(role="user", parts=parts, parent=len(turns) - 1 if turns else None))
                last_prompt = len(turns) - 1
            continue
        slides = find_all(item, "[aria-roledescription=slide]") or [item]
        for side, slide in enumerate(slides):
            turn = _answer(slide, base)
            if turn is None:
                continue
            turn.parent = last_prompt
            if len(slides) > 1:
                turn.metadata["side"] = _SIDES[side] if side < len(_SIDES) else str(side)
            turns.append(turn)
    models = sorted({t.model for t in turns if t.model})
    mode = _mode(page)
    meta: dict[str, object] = {"models": models} if models else {}
    if mode:
        meta["mode"] = mode
    return assemble(
        page,
        PROVIDER,
        turns,
        title=None,  # the page title is LMArena's own; the first prompt names the chat
        model=models[0] if len(models) == 1 else None,
        metadata=meta,
    )


def _conversation_items(page: SavedPage) -> list[Node]:
    for ol in page.tree.css("ol"):
        items = [c for c in element_children(ol) if find(c, ".prose") is not None or _is_answer(c)]
        if any("self-end" in classes(c) for c in items):
            return items
    return []


def _is_answer(node: Node) -> bool:
    return find(node, "[aria-roledescription=slide]") is not None


def _answer(slide: Node, base: str | None) -> Turn | None:
    model = _model_name(slide)
    prose = find(slide, ".prose")
    if prose is not None:
        parts = Converter(base_url=base).parts(prose)
        if parts:
            return Turn(role="assistant", parts=parts, model=model, author=model)
    error = find(slide, ".text-interactive-negative")
    if error is not None and normalize_space(error.text(deep=True)):
        return Turn(
            role="assistant",
            parts=[],
            model=model,
            author=model,
            status="error",
            metadata={"error": normalize_space(error.text(deep=True))},
        )
    return None


def _model_name(slide: Node) -> str | None:
    """The screen-reader heading says "Message from <model>"; the visible header agrees."""
    for heading in find_all(slide, "h2"):
        text = normalize_space(heading.text(deep=True))
        if text.startswith("Message from "):
            return text[len("Message from ") :] or None
    label = find(slide, "span.truncate")
    return normalize_space(label.text(deep=True)) or None if label is not None else None


def _mode(page: SavedPage) -> str | None:
    """The chat mode ("Side by Side", "Battle", "Direct") shown in the mode picker."""
    picker = page.tree.css_first("#chat-area button[role=combobox] p")
    return normalize_space(picker.text(deep=True)) or None if picker is not None else None
