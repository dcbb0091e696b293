"""ChatGPT share pages (chatgpt.com/share/<id>).

Messages are the elements carrying ``data-message-author-role``/``data-message-id``. The
page also streams the whole shared conversation (the export's ``mapping``) through React
Router's turbo-stream; from it come what the markup lacks: timestamps, attachment names and
sizes, and the reasoning summaries behind "Thought for 7s". Parts come from the markup for
every provider alike, so a page whose script was stripped still imports.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from vivim.capture.share_pages.build import Turn, assemble
from vivim.capture.share_pages.dom import Converter, image_part
from vivim.capture.share_pages.embedded import turbo_stream_payloads
from vivim.capture.share_pages.nodes import Node, classes, find, find_all, has_ancestor, normalize_space
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part
from vivim.domain.times import parse_time, to_iso

PROVIDER = "chatgpt"
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})([^`]*)$")


def parse(page: SavedPage) -> ParsedConversation:
    data = _shared_conversation(page)
    mapping: dict[str, Any] = (data.get("mapping") or {}) if data else {}
    base = page.share_url(PROVIDER)
    turns: list[Turn] = []
    for node in page.tree.css("[data-message-author-role]"):
        role = node.attributes.get("data-message-author-role") or ""
        if role not in ("user", "assistant"):
            continue
        msg_id = node.attributes.get("data-message-id") or None
        record = _message(mapping, msg_id)
        _inline_citation_pills(node)
        if role == "user":
            bubble = find(node, ".whitespace-pre-wrap") or node
            parts = _attachments(record) + _uploaded_images(node, bubble, base)
            parts.extend(Converter(base_url=base).parts(bubble))
        else:
            roots = [
                r
                for r in find_all(node, ".markdown")
                if not has_ancestor(r, lambda n: "markdown" in classes(n), node)
            ] or [node]
            body: list[Part] = []
            for root in roots:
                body.extend(Converter(base_url=base).parts(root))
            parts = _thinking(mapping, msg_id) + _declared_languages(body, record)
        if not parts:
            continue
        meta = (record or {}).get("metadata") or {}
        turns.append(
            Turn(
                role=role,
                parts=parts,
                source_id=msg_id,
                model=node.attributes.get("data-message-model-slug") or meta.get("model_slug"),
                created_at=parse_time((record or {}).get("create_time")),
                finish_reason=_finish_reason(meta),
            )
        )
    title = (data or {}).get("title") or page.title_text().removeprefix("ChatGPT - ")
    times = [t.created_at for t in turns if t.created_at is not None]
    shared_at = parse_time((data or {}).get("create_time"))
    model_info = (data or {}).get("model")
    return assemble(
        page,
        PROVIDER,
        turns,
        title=title,
        model=model_info.get("slug") if isinstance(model_info, dict) else None,
        # The share's own times are when the link was made; the chat began with its first
        # message, which is what a conversation's creation time means everywhere else.
        created_at=min(times) if times else shared_at,
        updated_at=max(times) if times else parse_time((data or {}).get("update_time")),
        metadata={"shared_at": to_iso(shared_at)} if shared_at else None,
    )


def _shared_conversation(page: SavedPage) -> dict[str, Any] | None:
    for payload in turbo_stream_payloads(page.tree):
        found = _find_mapping_owner(payload, depth=0)
        if found is not None:
            return found
    return None


def _find_mapping_owner(value: Any, depth: int) -> dict[str, Any] | None:
    """The object holding ``mapping`` (where it sits in loaderData changes between releases)."""
    if depth > 8:
        return None
    if isinstance(value, dict):
        if isinstance(value.get("mapping"), dict):
            return value
        for child in value.values():
            found = _find_mapping_owner(child, depth + 1)
            if found is not None:
                return found
    return None


def _message(mapping: dict[str, Any], msg_id: str | None) -> dict[str, Any] | None:
    node = mapping.get(msg_id or "")
    message = node.get("message") if isinstance(node, dict) else None
    return message if isinstance(message, dict) else None


def _attachments(record: dict[str, Any] | None) -> list[Part]:
    meta = (record or {}).get("metadata") or {}
    out: list[Part] = []
    for item in meta.get("attachments") or []:
        if isinstance(item, dict):
            size = item.get("size")
            out.append(
                P.attachment(
                    item.get("name"),
                    mime_type=item.get("mime_type"),
                    size_bytes=size if isinstance(size, int) else None,
                    ref=item.get("id"),
                )
            )
    return out


def _uploaded_images(node: Node, bubble: Node, base: str | None) -> list[Part]:
    """Images a prompt uploaded are shown above its text bubble, outside it."""
    if bubble.mem_id == node.mem_id:
        return []
    out: list[Part] = []
    for img in find_all(node, "img"):
        if has_ancestor(img, lambda n: n.mem_id == bubble.mem_id, node):
            continue
        part = image_part(img, base)
        if part is not None:
            out.append(part)
    return out


def _thinking(mapping: dict[str, Any], msg_id: str | None) -> list[Part]:
    """Reasoning shown collapsed above an answer: the ``thoughts`` records since the last
    visible message, in order, with the "Thought for ..." recap as summary."""
    chain: list[dict[str, Any]] = []
    node = mapping.get(msg_id or "")
    cur = node.get("parent") if isinstance(node, dict) else None
    while cur and isinstance(mapping.get(cur), dict):
        message = mapping[cur].get("message") or {}
        role = (message.get("author") or {}).get("role")
        content = message.get("content") or {}
        if role == "user" or (role == "assistant" and content.get("content_type") == "text"):
            break
        chain.append(message)
        cur = mapping[cur].get("parent")
    chain.reverse()
    texts: list[str] = []
    summary = None
    for message in chain:
        content = message.get("content") or {}
        if content.get("content_type") == "thoughts":
            for thought in content.get("thoughts") or []:
                if isinstance(thought, dict):
                    body = "\n\n".join(
                        s
                        for s in (thought.get("summary"), thought.get("content"))
                        if isinstance(s, str) and s
                    )
                    if body:
                        texts.append(body)
        elif content.get("content_type") == "reasoning_recap" and isinstance(content.get("content"), str):
            summary = content["content"]
    if not texts:
        return []
    return [P.thinking("\n\n".join(texts), summary=summary)]


def _declared_languages(parts: list[Part], record: dict[str, Any] | None) -> list[Part]:
    """Code languages as the model wrote them in its fences.

    The page labels an unlabelled fence with highlight.js's guess ("pgsql" for a diagram of
    arrows, "java" for a tree); the streamed markdown says what was really declared. Used
    only when the fences and the code parts pair up one to one.
    """
    content = (record or {}).get("content") or {}
    texts = [p for p in content.get("parts") or [] if isinstance(p, str)]
    infos = fence_infos("\n".join(texts))
    blocks = [i for i, p in enumerate(parts) if p["type"] in ("code", "mermaid")]
    if not texts or len(infos) != len(blocks):
        return parts
    out = list(parts)
    for index, info in zip(blocks, infos, strict=True):
        source = parts[index].get("code", parts[index].get("mermaid", ""))
        language = info.split()[0].lower() if info.strip() else None
        out[index] = P.mermaid(source) if language == "mermaid" else P.code(source, language)
    return out


def fence_infos(markdown: str) -> list[str]:
    """The info string of every fenced code block in ``markdown``, in order."""
    infos: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                infos.append(m.group(2).strip())
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
            fence = None
    return infos


def _finish_reason(meta: dict[str, Any]) -> str | None:
    details = meta.get("finish_details")
    if isinstance(details, dict) and isinstance(details.get("type"), str):
        return details["type"]
    return None


def _inline_citation_pills(node: Node) -> None:
    """Turn "GitHub +3" source pills into plain markdown links before conversion.

    The pill's visible text is the first source's name plus a count of hidden ones; only the
    first source's address is in the markup.
    """
    for pill in node.css('[data-testid="webpage-citation-pill"]'):
        link = find(pill, "a[href]")
        if link is None:
            pill.decompose()
            continue
        href = link.attributes.get("href") or ""
        host = (urlsplit(href).hostname or "").lower()
        # A pill grouping several sources cycles through their names; the link is the
        # first source's, so prefer the name that matches its host.
        labels = [
            normalize_space(span.text(deep=True))
            for span in find_all(pill, "span")
            if any("truncate" in c for c in classes(span))
        ]
        labels = [label for label in labels if label]
        label = next((x for x in labels if x.lower().replace(" ", "") in host), labels[0] if labels else href)
        pill.replace_with(f"[{label}]({href})")
