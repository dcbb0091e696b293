"""Grok share pages (grok.com/share/<id>).

Each message is a ``div#response-<uuid>`` holding a ``.message-bubble``; the prompt side is
right-aligned (``items-end``), answers left-aligned (``items-start``). The text sits in
``.response-content-markdown``; source favicons and action buttons around it are chrome.
Maths is KaTeX with the TeX kept in annotations.
"""

from __future__ import annotations

from vivim.capture.share_pages.build import Turn, assemble, strip_suffix
from vivim.capture.share_pages.dom import Converter
from vivim.capture.share_pages.nodes import Node, classes, find, find_all, normalize_space
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part

PROVIDER = "grok"
_TITLE_SUFFIXES = ("| Shared Grok Conversation", "- Grok", "| Grok")


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    for node in page.tree.css("div[id^=response-]"):
        bubble = find(node, ".message-bubble")
        if bubble is None:
            continue
        names = classes(node)
        role = "user" if "items-end" in names else "assistant"
        parts = _thinking(bubble, base) if role == "assistant" else []
        bodies = find_all(bubble, ".response-content-markdown") or [bubble]
        for body in bodies:
            parts.extend(Converter(base_url=base, skip=_is_chrome).parts(body))
        if parts:
            turns.append(Turn(role=role, parts=parts, source_id=node.attributes["id"][len("response-") :]))
    title = page.first_meta("og:title", "twitter:title") or page.title_text()
    return assemble(page, PROVIDER, turns, title=strip_suffix(title, *_TITLE_SUFFIXES))


def _is_chrome(node: Node) -> bool:
    names = classes(node)
    return "thinking-container" in names or "action-buttons" in names


def _thinking(bubble: Node, base: str | None) -> list[Part]:
    """Grok shares usually leave the thinking panel empty; keep it when it has text."""
    out: list[Part] = []
    for panel in find_all(bubble, ".thinking-container"):
        if normalize_space(panel.text(deep=True)):
            text = "\n\n".join(
                p.get("text", "") for p in Converter(base_url=base).parts(panel) if p["type"] == "text"
            )
            if text:
                out.append(P.thinking(text))
    return out
