"""Claude share pages (claude.ai/share/<id>).

Each message is a ``div[data-test-render-count]``: a user turn holds
``[data-testid=user-message]`` (plus file thumbnails above it), an answer holds
``.font-claude-response``. The page carries no message ids, timestamps or model name.
"""

from __future__ import annotations

from vivim.capture.share_pages.build import Turn, assemble, strip_suffix
from vivim.capture.share_pages.dom import Converter, image_part
from vivim.capture.share_pages.nodes import Node, classes, find, find_all, normalize_space
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part

PROVIDER = "claude"


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    for block in _message_blocks(page):
        user = find(block, "[data-testid=user-message]")
        if user is not None:
            parts = _attachments(block) + Converter(base_url=base).parts(user)
            role = "user"
        else:
            response = find(block, ".font-claude-response")
            if response is None:
                continue
            parts = _answer_parts(response, base)
            role = "assistant"
        if parts:
            turns.append(Turn(role=role, parts=parts))
    title = page.first_meta("og:title", "twitter:title") or strip_suffix(
        page.title_text(), "| Claude", "- Claude"
    )
    return assemble(page, PROVIDER, turns, title=title)


def _message_blocks(page: SavedPage) -> list[Node]:
    blocks = page.tree.css("[data-test-render-count]")
    if blocks:
        return blocks
    # Older pages: no render-count wrapper; fall back to the two message markers themselves.
    return page.tree.css("[data-testid=user-message], .font-claude-response")


def _attachments(block: Node) -> list[Part]:
    out: list[Part] = []
    for thumb in find_all(block, "[data-testid=file-thumbnail]"):
        name = find(thumb, "h3")
        if name is not None and normalize_space(name.text(deep=True)):
            out.append(P.attachment(normalize_space(name.text(deep=True))))
            continue
        # An uploaded image shows as a picture thumbnail without a file name.
        img = find(thumb, "img")
        part = image_part(img) if img is not None else None
        if part is not None:
            out.append(part)
    return out


def _answer_parts(response: Node, base: str | None) -> list[Part]:
    """The answer's prose; a collapsed "thinking" panel, when the page kept one, is reasoning."""

    def is_thinking(node: Node) -> bool:
        return any("thinking" in c.lower() for c in classes(node))

    parts: list[Part] = []
    for panel in find_all(response, "[class*=thinking]"):
        text = normalize_space(panel.text(deep=True))
        if text:
            parts.append(P.thinking(panel.text(deep=True).strip()))
    parts.extend(Converter(base_url=base, skip=is_thinking).parts(response))
    return parts
