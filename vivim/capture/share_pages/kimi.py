"""Kimi share pages (www.kimi.com/share/<id>).

Messages are ``.segment-user`` / ``.segment-assistant``. The answer's reasoning is a
``.thinking-container`` panel (title = summary) and tool calls are ``.toolcall-container``
panels; the answer itself is the rest. The page also hydrates from
``window.HYDRATION_INIT_STATE``, whose ``share`` query holds the chat: message ids, times,
the chat name and exact attachment metadata, matched to the markup in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vivim.capture.share_pages.build import Turn, assemble, strip_suffix
from vivim.capture.share_pages.dom import Converter
from vivim.capture.share_pages.embedded import js_assignment
from vivim.capture.share_pages.nodes import Node, classes, find, find_all, normalize_space
from vivim.capture.share_pages.page import SavedPage
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation
from vivim.domain.parts import Part, message_text
from vivim.domain.times import parse_time

PROVIDER = "kimi"
_ROLES = {2: "user", 3: "assistant"}  # kimi.chat.v1.ChatMessage.role


def parse(page: SavedPage) -> ParsedConversation:
    base = page.share_url(PROVIDER)
    share = _share_data(page)
    records = [m for m in (share or {}).get("messages") or [] if isinstance(m, dict)]
    turns: list[Turn] = []
    for segment in page.tree.css(".segment-user, .segment-assistant"):
        if "segment-user" in classes(segment):
            parts = _dom_attachments(segment)
            content = find(segment, ".user-content")
            if content is not None:
                parts.extend(Converter(base_url=base).parts(content, preserve_whitespace=True))
            turns.append(Turn(role="user", parts=parts))
        else:
            box = find(segment, ".segment-content-box") or segment
            parts = _thinking(box, base)
            parts.extend(Converter(base_url=base, skip=_is_panel).parts(box))
            turns.append(Turn(role="assistant", parts=parts))
    turns = [t for t in turns if t.parts]
    _apply_records(turns, records)
    chat = (share or {}).get("chat") or {}
    title = chat.get("name") or _dom_title(page)
    return assemble(
        page,
        PROVIDER,
        turns,
        title=title,
        created_at=_timestamp(chat.get("createTime")),
        updated_at=_timestamp(chat.get("updateTime")),
    )


def _share_data(page: SavedPage) -> dict[str, Any] | None:
    state = js_assignment(page.tree, "HYDRATION_INIT_STATE")
    if not isinstance(state, dict):
        return None
    for query in state.get("queries") or []:
        if not isinstance(query, dict):
            continue
        key = query.get("queryKey")
        data = (query.get("state") or {}).get("data")
        if isinstance(key, list) and key and key[0] == "share" and isinstance(data, dict):
            return data
    return None


def _apply_records(turns: list[Turn], records: list[dict[str, Any]]) -> None:
    """Ids, times and exact attachment metadata from the embedded chat, when the embedded
    messages and the rendered ones line up role for role."""
    roles = [_ROLES.get(r.get("role", 0)) for r in records]
    if roles != [t.role for t in turns]:
        return
    for turn, record in zip(turns, records, strict=True):
        turn.source_id = record.get("id") or None
        turn.created_at = _timestamp(record.get("createTime"))
        files = _record_attachments(record)
        if files:
            turn.parts = files + [p for p in turn.parts if p["type"] != "attachment"]


def _record_attachments(record: dict[str, Any]) -> list[Part]:
    out: list[Part] = []
    for block in record.get("blocks") or []:
        content = (block or {}).get("content") or {}
        if content.get("case") != "file":
            continue
        value = content.get("value") or {}
        meta = value.get("meta") or {}
        size = meta.get("sizeBytes")
        mime = (meta.get("contentType") or "").split(";")[0].strip() or None
        out.append(
            P.attachment(
                meta.get("name"),
                mime_type=mime,
                size_bytes=size if isinstance(size, int) else None,
                ref=value.get("id") or None,
            )
        )
    return out


def _dom_attachments(segment: Node) -> list[Part]:
    return [
        P.attachment(normalize_space(n.text(deep=True)))
        for n in find_all(segment, ".file-card-info-name")
        if normalize_space(n.text(deep=True))
    ]


def _is_panel(node: Node) -> bool:
    return "toolcall-container" in classes(node)


def _thinking(box: Node, base: str | None) -> list[Part]:
    out: list[Part] = []
    for panel in find_all(box, ".thinking-container"):
        content = find(panel, ".toolcall-content") or panel
        text = message_text(Converter(base_url=base).parts(content))
        title = find(panel, ".toolcall-title-name")
        summary = normalize_space(title.text(deep=True)) if title is not None else None
        if text:
            out.append(P.thinking(text, summary=summary or None))
    return out


def _dom_title(page: SavedPage) -> str:
    node = page.tree.css_first(".share-title")
    if node is not None and normalize_space(node.text(deep=True)):
        return normalize_space(node.text(deep=True))
    return strip_suffix(page.title_text(), "- Kimi", "| Kimi")


def _timestamp(value: Any) -> datetime | None:
    """``google.protobuf.Timestamp`` ({seconds, nanos}) -> datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("seconds"), int):
        return None
    nanos = value.get("nanos") if isinstance(value.get("nanos"), int) else 0
    return parse_time(value["seconds"] + nanos / 1e9)
