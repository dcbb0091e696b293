"""ChatGPT data export (``conversations.json``): conversations with their whole message tree.

A ChatGPT conversation is a ``mapping`` of nodes, each pointing at its parent; editing a
prompt or regenerating an answer adds a sibling branch, and ``current_node`` names the leaf
the user last saw. Every branch is kept; the path from ``current_node`` to the root is marked
``on_current_path``. Nodes without a message (the synthetic roots) are skipped and their
children hang from the nearest real ancestor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from vivim.capture.base import ParseItem, Source
from vivim.capture.jsonstream import parse_records
from vivim.capture.markdown import split_markdown
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part
from vivim.domain.times import parse_time

# A real key, not text inside a string value (where the quote would be escaped).
_MAPPING_KEY = re.compile(rb'(?<!\\)"mapping"\s*:\s*\{')
_CONVERSATION_HINT = re.compile(rb'(?<!\\)"(?:current_node|children|author|content_type)"\s*:')

_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "tool"}
_STATUSES = {
    "finished_successfully": "completed",
    "in_progress": "incomplete",
    "finished_partial_completion": "incomplete",
}
_CONTEXT_TYPES = frozenset({"user_editable_context", "model_editable_context"})
_CONVERSATION_METADATA_KEYS = (
    "gizmo_id",
    "gizmo_type",
    "is_archived",
    "is_starred",
    "conversation_template_id",
    "conversation_origin",
    "memory_scope",
    "is_do_not_remember",
)
_ERROR_STATUSES = frozenset({"failed_with_in_kernel_exception", "failed", "error", "timeout"})


# --- the parser ------------------------------------------------------------------------------


class ChatGPTParser:
    name = "chatgpt"

    def sniff(self, head: bytes, source_name: str) -> bool:
        return bool(_MAPPING_KEY.search(head)) and bool(_CONVERSATION_HINT.search(head))

    def parse(self, source: Source) -> Iterator[ParseItem]:
        return parse_records(source, _conversation_or_error)


PARSER = ChatGPTParser()


def _conversation_or_error(record: dict[str, Any], index: int, source_name: str) -> ParseItem:
    title = record.get("title") if isinstance(record.get("title"), str) else ""
    label = f"record {index} {title!r}"
    mapping = record.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        return RecordError(
            source=source_name,
            record=label,
            message=f"conversation {label} (id {_conversation_id(record)}) has no message mapping; skipped",
        )
    try:
        return _conversation(record, mapping, title)
    except Exception as exc:  # one odd record must not stop the import
        return RecordError(
            source=source_name,
            record=label,
            message=f"conversation {label} could not be read: {type(exc).__name__}: {exc}",
        )


def _conversation_id(record: dict[str, Any]) -> str | None:
    value = record.get("conversation_id") or record.get("id")
    return str(value) if value else None


def _conversation(record: dict[str, Any], mapping: dict[str, Any], title: str) -> ParsedConversation:
    conv_id = _conversation_id(record)
    nodes = {key: node for key, node in mapping.items() if isinstance(node, dict)}
    parents = _parent_keys(nodes)
    order = _tree_order(nodes, parents)
    current = _current_path(nodes, parents, record.get("current_node"))

    message_ids: dict[str, str] = {}
    for key in order:
        msg = nodes[key].get("message")
        if isinstance(msg, dict):
            message_ids[key] = str(msg.get("id") or nodes[key].get("id") or key)

    messages: list[ParsedMessage] = []
    instructions: list[str] = []
    for key in order:
        msg = nodes[key].get("message")
        if not isinstance(msg, dict):
            continue
        parent_key = _real_ancestor(parents, key, message_ids)
        messages.append(
            _message(
                msg,
                source_id=message_ids[key],
                parent_source_id=message_ids[parent_key] if parent_key else None,
                on_current_path=key in current,
                instructions=instructions,
            )
        )

    model = record.get("default_model_slug")
    if not isinstance(model, str) or not model:
        model = next((m.model for m in reversed(messages) if m.on_current_path and m.model), None)
    created = parse_time(record.get("create_time"))
    return ParsedConversation(
        provider="chatgpt",
        source_id=conv_id or derived_id("chatgpt", title, str(record.get("create_time"))),
        title=title,
        messages=messages,
        model=model,
        source_url=f"https://chatgpt.com/c/{conv_id}" if conv_id else None,
        created_at=created,
        updated_at=parse_time(record.get("update_time")) or created,
        metadata={k: record[k] for k in _CONVERSATION_METADATA_KEYS if record.get(k) is not None},
        custom_instructions=_unique(instructions),
    )


# --- the tree ------------------------------------------------------------------------------

_Parents = dict[str, str | None]


def _parent_keys(nodes: dict[str, Any]) -> _Parents:
    """Each node's parent key; None for roots and for parents missing from the mapping."""
    parents: _Parents = {}
    for key, node in nodes.items():
        parent = node.get("parent")
        parents[key] = parent if isinstance(parent, str) and parent in nodes else None
    return parents


def _tree_order(nodes: dict[str, Any], parents: _Parents) -> list[str]:
    """Node keys parents-first (depth-first, siblings in the parent's ``children`` order)."""
    kids: dict[str, list[str]] = {}
    roots: list[str] = []
    for key, parent in parents.items():
        if parent is None:
            roots.append(key)
        else:
            kids.setdefault(parent, []).append(key)
    for parent, keys in kids.items():
        listed = nodes[parent].get("children")
        if isinstance(listed, list) and len(keys) > 1:
            rank = {k: i for i, k in enumerate(listed) if isinstance(k, str)}
            keys.sort(key=lambda k: rank.get(k, len(rank)))
    order: list[str] = []
    seen: set[str] = set()
    # Iterative: real conversations are thousands of nodes deep.
    stack = roots[::-1]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        order.append(key)
        children = kids.get(key)
        if children:
            stack.extend(reversed(children))
    # Nodes caught in a parent cycle are unreachable from any root; keep them anyway.
    if len(order) < len(nodes):
        order.extend(k for k in nodes if k not in seen)
    return order


def _current_path(nodes: dict[str, Any], parents: _Parents, current_node: Any) -> set[str]:
    leaf = current_node if isinstance(current_node, str) and current_node in nodes else None
    if leaf is None:
        leaf = _latest_leaf(nodes, parents)
    path: set[str] = set()
    key = leaf
    while key is not None and key not in path:
        path.add(key)
        key = parents[key]
    return path


def _latest_leaf(nodes: dict[str, Any], parents: _Parents) -> str | None:
    # Without current_node, follow the last child (the newest edit or regeneration) down.
    roots = [k for k, p in parents.items() if p is None]
    if not roots:
        return None
    key = roots[-1]
    seen: set[str] = set()
    while key not in seen:
        seen.add(key)
        children = [c for c in nodes[key].get("children") or () if isinstance(c, str) and c in nodes]
        if not children:
            break
        key = children[-1]
    return key


def _real_ancestor(parents: _Parents, key: str, message_ids: dict[str, str]) -> str | None:
    parent = parents[key]
    if parent is None or parent in message_ids:
        return parent
    seen = {key}
    while parent is not None and parent not in message_ids and parent not in seen:
        seen.add(parent)
        parent = parents[parent]
    return parent if parent in message_ids else None


# --- one message ---------------------------------------------------------------------------


def _message(
    msg: dict[str, Any],
    *,
    source_id: str,
    parent_source_id: str | None,
    on_current_path: bool,
    instructions: list[str],
) -> ParsedMessage:
    # Runs once per message of every export: each key is looked up once, and the common
    # shapes (dicts where dicts belong, float timestamps) take the short way.
    get = msg.get
    author = get("author")
    if not isinstance(author, dict):
        author = _EMPTY
    raw_role = author.get("role")
    role = _ROLES.get(raw_role, "system") if isinstance(raw_role, str) else "system"
    content = get("content")
    if not isinstance(content, dict):
        content = {}  # fresh: it may end up inside a part
    ctype = content.get("content_type")
    meta = get("metadata")
    if not isinstance(meta, dict):
        meta = _EMPTY
    recipient = get("recipient")

    extra: dict[str, Any] = {"content_type": ctype}
    if isinstance(recipient, str) and recipient != "all":
        extra["recipient"] = recipient
    channel = get("channel")
    if channel is not None:
        extra["channel"] = channel
    end_turn = get("end_turn")
    if end_turn is not None:
        extra["end_turn"] = end_turn

    hidden = bool(meta.get("is_visually_hidden_from_conversation")) if meta else False
    if ctype in _CONTEXT_TYPES:
        parts = _context_parts(content, instructions)
        role, hidden = "system", True
    elif role == "assistant" and isinstance(recipient, str) and recipient not in ("all", ""):
        parts = [_tool_call(content, recipient)]
    else:
        parts = _content_parts(content, author, meta)
    if meta and "attachments" in meta:
        parts.extend(_attachment_parts(meta))
    if role == "system" and not parts:
        hidden = True
    if raw_role != role:
        extra["original_role"] = raw_role

    if meta:
        finish = meta.get("finish_details")
        finish_reason = finish.get("type") if isinstance(finish, dict) else None
        model = meta.get("model_slug")
    else:
        finish_reason = model = None
    if finish_reason is None and end_turn is True:
        finish_reason = "end_turn"
    status = get("status")
    name = author.get("name")
    return ParsedMessage(
        source_id,
        role,
        parts,
        parent_source_id,
        name if isinstance(name, str) and name else None,
        _time(get("create_time")),
        model if isinstance(model, str) and model else None,
        _STATUSES.get(status, status) if isinstance(status, str) and status else "completed",
        finish_reason if isinstance(finish_reason, str) else None,
        hidden,
        on_current_path,
        extra,
    )


_EMPTY: dict[str, Any] = {}  # read only: stands in for a missing author or metadata


def _time(value: Any) -> datetime | None:
    # parse_time, with the shape exports use (float epoch seconds) converted directly.
    if value.__class__ is float and value <= 1e11:
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_time(value)


def _context_parts(content: dict[str, Any], instructions: list[str]) -> list[Part]:
    parts: list[Part] = []
    if content.get("content_type") == "user_editable_context":
        for key in ("user_profile", "user_instructions"):
            value = content.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(P.text(value))
                instructions.append(value)
    else:
        # model_editable_context: what ChatGPT's memory held; context for the model, not the user's words.
        value = content.get("model_set_context")
        if isinstance(value, str) and value.strip():
            parts.append(P.text(value))
    return parts


def _tool_call(content: dict[str, Any], recipient: str) -> Part:
    ctype = content.get("content_type")
    if ctype == "code" and isinstance(content.get("text"), str):
        return P.tool_call(recipient, content["text"])
    if ctype == "text" and isinstance(content.get("parts"), list):
        strings = [p for p in content["parts"] if isinstance(p, str)]
        if len(strings) == len(content["parts"]):
            return P.tool_call(recipient, "\n".join(strings))
    return P.tool_call(recipient, content)


def _content_parts(content: dict[str, Any], author: dict[str, Any], meta: dict[str, Any]) -> list[Part]:
    ctype = content.get("content_type")
    if ctype in ("text", "multimodal_text"):
        out: list[Part] = []
        for item in content.get("parts") or ():
            if isinstance(item, str):
                out.extend(split_markdown(item))
            else:
                out.append(_multimodal_part(item))
        return out
    if ctype == "code":
        language = content.get("language")
        body = content.get("text")
        if not isinstance(body, str):
            return [P.unknown(ctype, content)]
        lang = language if isinstance(language, str) and language != "unknown" else None
        return [P.code(body, lang)] if body else []
    if ctype == "execution_output":
        return [P.tool_result(content.get("text"), name=author.get("name"), is_error=_failed(meta))]
    if ctype == "system_error":
        return [P.tool_result(content.get("text"), name=content.get("name"), is_error=True)]
    if ctype == "tether_browsing_display":
        return [
            P.citation(
                text=content.get("result") or None,
                title=content.get("summary") or None,
                source=author.get("name") or "browser",
            )
        ]
    if ctype in ("tether_quote", "sonic_webpage"):
        return [
            P.citation(
                url=content.get("url"),
                title=content.get("title"),
                text=content.get("text"),
                source=content.get("domain"),
            )
        ]
    if ctype == "thoughts":
        return _thoughts(content)
    if ctype == "reasoning_recap":
        recap = content.get("content")
        if isinstance(recap, str):
            return [P.thinking(recap)] if recap else []
        return [P.thinking(p) for p in content.get("parts") or () if isinstance(p, str) and p]
    return [P.unknown(ctype if isinstance(ctype, str) else None, content)]


def _failed(meta: dict[str, Any]) -> bool:
    # A failed code run shows only in the tool message's metadata, not in its content.
    result = meta.get("aggregate_result")
    return isinstance(result, dict) and result.get("status") in _ERROR_STATUSES


def _thoughts(content: dict[str, Any]) -> list[Part]:
    out: list[Part] = []
    thoughts = content.get("thoughts")
    if isinstance(thoughts, list):
        for t in thoughts:
            if isinstance(t, dict) and isinstance(t.get("content"), str):
                summary = t.get("summary")
                out.append(
                    P.thinking(t["content"], summary if isinstance(summary, str) and summary else None)
                )
    for p in content.get("parts") or ():
        if isinstance(p, str) and p:
            out.append(P.thinking(p))
    return out


def _multimodal_part(item: Any) -> Part:
    if not isinstance(item, dict):
        return P.unknown(None, item)
    kind = item.get("content_type")
    if kind == "image_asset_pointer":
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        dalle = meta.get("dalle") if isinstance(meta.get("dalle"), dict) else {}
        prompt = dalle.get("prompt")
        return P.image(
            item.get("asset_pointer"),
            alt=prompt if isinstance(prompt, str) and prompt else None,
            size_bytes=_int(item.get("size_bytes")),
            width=_int(item.get("width")),
            height=_int(item.get("height")),
        )
    if kind == "audio_transcription" and isinstance(item.get("text"), str):
        return P.text(item["text"])
    return P.unknown(kind if isinstance(kind, str) else None, item)


def _attachment_parts(meta: dict[str, Any]) -> list[Part]:
    attachments = meta.get("attachments")
    if not isinstance(attachments, list):
        return []
    out: list[Part] = []
    for a in attachments:
        if not isinstance(a, dict):
            continue
        out.append(
            P.attachment(
                a.get("name"),
                mime_type=a.get("mime_type"),
                size_bytes=_int(a.get("size")),
                ref=a.get("file_id") or a.get("id"),
            )
        )
    return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
