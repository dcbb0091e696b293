"""DeepSeek share pages (chat.deepseek.com/share/<id>).

Messages are ``.ds-message`` elements; class names besides the ``ds-`` ones are hashed and
change with every release, so roles come from content: an answer is rendered markdown
(``.ds-markdown``), a prompt is plain text. An answer may open with its reasoning
(``.ds-think-content``) under a "Thought for N seconds" header. No ids, times or model.
"""

from __future__ import annotations

from vivim.capture.share_pages.build import Turn, assemble
from vivim.capture.share_pages.dom import Converter
from vivim.capture.share_pages.nodes import (
    Node,
    element_children,
    find,
    find_all,
    has_ancestor,
    has_class,
    normalize_space,
)
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part, message_text

PROVIDER = "deepseek"
_SHARED_FILE_NOTE = "Shared files can't be displayed"
# The page's own <title> and og:title are the same for every share.
_GENERIC_TITLES = ("DeepSeek - Into the Unknown", "Shared Conversation - DeepSeek", "DeepSeek")


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    for message in page.tree.css(".ds-message"):
        if has_ancestor(message, lambda n: has_class(n, "ds-message")):
            continue
        answers = [
            md
            for md in find_all(message, ".ds-markdown")
            if not has_ancestor(md, lambda n: has_class(n, "ds-think-content"), message)
        ]
        if answers or find(message, ".ds-think-content") is not None:
            parts = _thinking(message, base)
            for md in answers:
                parts.extend(Converter(base_url=base).parts(md))
            role = "assistant"
        else:
            parts = _prompt(message, base)
            role = "user"
        if parts:
            turns.append(Turn(role=role, parts=parts))
    title = page.title_text()
    if title in _GENERIC_TITLES:
        title = ""
    return assemble(page, PROVIDER, turns, title=title)


def _thinking(message: Node, base: str | None) -> list[Part]:
    panel = find(message, ".ds-think-content")
    if panel is None:
        return []
    text = message_text(Converter(base_url=base).parts(panel))
    if not text:
        return []
    summary = None
    sibling = panel.prev
    while sibling is not None and summary is None:
        if sibling.is_element_node:
            summary = normalize_space(sibling.text(deep=True)) or None
        sibling = sibling.prev
    return [P.thinking(text, summary=summary)]


def _prompt(message: Node, base: str | None) -> list[Part]:
    """A prompt is its last child; file cards sit in the children before it."""
    children = element_children(message)
    if not children:
        return []
    parts: list[Part] = []
    for card in children[:-1]:
        texts = [
            normalize_space(t)
            for t in card.text(deep=True, separator="\n").split("\n")
            if normalize_space(t) and normalize_space(t) != _SHARED_FILE_NOTE
        ]
        # A shared page hides attached files behind a generic "File" label.
        name = next((t for t in texts if t != "File"), None)
        parts.append(P.attachment(name))
    parts.extend(Converter(base_url=base).parts(children[-1], preserve_whitespace=True))
    return parts
