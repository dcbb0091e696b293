"""z.ai share pages (chat.z.ai/s/<id>), an Open WebUI derivative.

Each message is ``[id^=message-]``: prompts carry ``user-message`` and a ``.chat-user``
bubble (plain text, line breaks kept by a stylesheet rule, files as buttons); answers carry
``.chat-assistant`` with the model name in the header and the text in
``#response-content-container``. Reasoning sits in a collapsed ``.thinking-block``. Code is
CodeMirror (``.cm-line`` per line); mermaid sources are CodeMirror views hidden behind the
rendered diagram. The header shows the time in the saver's zone without saying which, so it
is kept as shown (metadata) rather than guessed into UTC.
"""

from __future__ import annotations

from vivim.capture.share_pages.build import Turn, assemble
from vivim.capture.share_pages.dom import Converter
from vivim.capture.share_pages.nodes import (
    Node,
    classes,
    element_children,
    find,
    find_all,
    has_ancestor,
    normalize_space,
)
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part, message_text

PROVIDER = "zai"


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    for node in page.tree.css("[id^=message-]"):
        msg_id = node.attributes["id"][len("message-") :]
        user = find(node, ".chat-user")
        if user is not None:
            parts = _files(user)
            bubble = _bubble(user)
            parts.extend(Converter(base_url=base).parts(bubble, preserve_whitespace=True))
            if parts:
                turns.append(Turn(role="user", parts=parts, source_id=msg_id))
            continue
        answer = find(node, ".chat-assistant")
        if answer is None:
            continue
        body = find(answer, "#response-content-container") or answer
        parts = _thinking(body, base)
        parts.extend(Converter(base_url=base, skip=_is_thinking).parts(body))
        if parts:
            model, shown = _header(node)
            turns.append(
                Turn(
                    role="assistant",
                    parts=parts,
                    source_id=msg_id,
                    model=model,
                    metadata={"shown_time": shown} if shown else {},
                )
            )
    return assemble(page, PROVIDER, turns, title=_title(page))


def _is_thinking(node: Node) -> bool:
    names = classes(node)
    return "thinking-chain-container" in names or "thinking-block" in names


def _thinking(body: Node, base: str | None) -> list[Part]:
    out: list[Part] = []
    for block in find_all(body, ".thinking-block"):
        content = find(block, "[slot=content]") or block
        # The reasoning is shown as one quotation; its lines are not quotes of anything.
        quotes = [c for c in element_children(content) if c.tag == "blockquote"]
        if len(quotes) == 1 and len(element_children(content)) == 1:
            content = quotes[0]
        text = message_text(Converter(base_url=base).parts(content))
        if text:
            out.append(P.thinking(text))
    return out


def _bubble(user: Node) -> Node:
    """The prompt's text bubble (file buttons share its rounded-corner class)."""
    for candidate in find_all(user, ".rounded-xl"):
        if candidate.tag != "button" and not has_ancestor(candidate, lambda n: n.tag == "button", user):
            return candidate
    return user


def _files(user: Node) -> list[Part]:
    """Attached files are buttons holding the file name (and type and size) as text."""
    out: list[Part] = []
    for button in find_all(user, "button"):
        name = find(button, ".font-medium")
        if name is not None and normalize_space(name.text(deep=True)):
            out.append(P.attachment(normalize_space(name.text(deep=True))))
    return out


def _header(node: Node) -> tuple[str | None, str | None]:
    """Model name and the displayed time (its aria-label spells the full date)."""
    model = None
    shown = None
    for labelled in find_all(node, "[aria-label]"):
        if find(labelled, ".chat-assistant") is not None or labelled.tag == "button":
            continue
        label = (labelled.attributes.get("aria-label") or "").strip()
        text = normalize_space(labelled.text(deep=True))
        if not label or not text:
            continue
        if model is None and label == text:
            model = label
        elif shown is None and any(ch.isdigit() for ch in label) and "," in label:
            shown = label
        if model and shown:
            break
    return model, shown


def _title(page: SavedPage) -> str:
    """The page header shows the chat's name (z.ai calls unnamed chats "New Chat")."""
    heading = page.tree.css_first("#share-container .text-2xl")
    if heading is not None and normalize_space(heading.text(deep=True)):
        return normalize_space(heading.text(deep=True))
    return page.title_text()
