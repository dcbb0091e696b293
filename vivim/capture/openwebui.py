"""Open WebUI chat exports (JSON).

Accepted shapes, all streamed when the top level is a list:

- the "Export All Chats" / per-chat download: a list of rows
  ``{"id", "title", "chat": {...}, "created_at", "updated_at", "archived", "pinned",
  "meta", "folder_id", ...}`` (times in epoch seconds);
- one such row on its own;
- the bare ``chat`` object (``{"id", "title", "models", "history", "messages",
  "timestamp", ...}``), alone or in a list.

The chat's ``history.messages`` is a dict of every message keyed by id, each with
``parentId``/``childrenIds``: editing a prompt or regenerating an answer adds a sibling
branch. Every branch is kept (parent links as given); the path from ``history.currentId`` up
to the root is marked ``on_current_path`` (without a usable ``currentId``, the most recent
message is taken as the tip). Messages found only in the flat ``chat.messages`` list are added
too. Messages are emitted parents first.

Per message: ``role`` (user/assistant/system/tool; anything else is a :class:`RecordError`
for that message and its children hang from the nearest kept ancestor), ``content``
(markdown, split with :func:`vivim.capture.markdown.split_markdown`; an OpenAI-style list of
content items is accepted too), ``model`` and ``modelName`` (the author), ``timestamp``
(epoch seconds), ``files`` (image and file attachments, as references), ``sources`` /
``citations`` (``citation`` parts), ``usage``, ``annotation`` (ratings), ``done: false``
(status ``incomplete``) and ``error`` (status ``error``).

Open WebUI writes some structure into the content itself; it is lifted out:
``<details type="reasoning">`` and a leading ``<think>...</think>`` become ``thinking``;
``<details type="tool_calls" name=... arguments=... result=...>`` becomes a ``tool_call``
and its ``tool_result``; ``<details type="code_interpreter">`` becomes its code and a
``tool_result`` with the output.

A chat whose ``id`` is empty gets one derived from its title, creation time and first
message id, so re-importing the same file lands on the same conversation.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vivim.capture.base import ParseItem, Source
from vivim.capture.jsonstream import stream_json_records
from vivim.capture.markdown import split_markdown
from vivim.domain import parts as P
from vivim.domain.conversation import ROLES, ParsedConversation, ParsedMessage, RecordError
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part
from vivim.domain.times import parse_time

PROVIDER = "openwebui"
TITLE_LIMIT = 80

_UTF8_BOM = b"\xef\xbb\xbf"
_HISTORY_KEY = re.compile(rb'(?<!\\)"history"\s*:\s*\{')
_TREE_KEYS = re.compile(rb'(?<!\\)"(?:currentId|childrenIds|parentId)"\s*:')
_DETAILS = re.compile(r"<details\b([^>]*)>(.*?)</details>", re.DOTALL | re.IGNORECASE)
# Reasoning models put their thoughts first; a "<think>" later on is text about the tag.
_THINK = re.compile(r"\A\s*<think>(.*?)(?:</think>|\Z)", re.DOTALL)
_ATTRIBUTE = re.compile(r'([A-Za-z_][\w\-]*)\s*=\s*"([^"]*)"')
_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.DOTALL | re.IGNORECASE)
_LIFTED_DETAILS = frozenset({"reasoning", "tool_calls", "code_interpreter"})
_CONVERSATION_METADATA = ("archived", "pinned", "folder_id", "share_id")


class OpenWebUIParser:
    name = "openwebui"

    def sniff(self, head: bytes, source_name: str) -> bool:
        body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        if body.lstrip()[:1] not in (b"[", b"{"):
            return False
        return bool(_HISTORY_KEY.search(body)) and bool(_TREE_KEYS.search(body))

    def parse(self, source: Source) -> Iterator[ParseItem]:
        for item in stream_json_records(source, allow_single_object=True):
            if isinstance(item, RecordError):
                yield item
                return
            index, record = item
            yield from _chat_items(record, index, source.name)


PARSER = OpenWebUIParser()


def _chat_items(record: Any, index: int, source_name: str) -> Iterator[ParseItem]:
    if not isinstance(record, dict):
        yield RecordError(
            source=source_name,
            record=f"chat {index}",
            message=f"chat {index} is a JSON {type(record).__name__}, not a chat object",
        )
        return
    inner = record.get("chat") if isinstance(record.get("chat"), dict) else record
    title = _first_str(record.get("title"), inner.get("title")) or ""
    chat_id = _first_str(record.get("id"), inner.get("id"))
    label = f"chat {index}" + (f" {chat_id!r}" if chat_id else "") + (f" {title[:60]!r}" if title else "")
    history = inner.get("history") if isinstance(inner.get("history"), dict) else {}
    if not isinstance(history.get("messages"), dict) and not isinstance(inner.get("messages"), list):
        yield RecordError(
            source=source_name,
            record=label,
            message=f"{label} has neither history.messages nor messages; skipped",
        )
        return
    errors: list[RecordError] = []
    try:
        conversation = _conversation(record, inner, history, title, chat_id, label, source_name, errors)
    except Exception as exc:  # noqa: BLE001 - one odd chat must not stop the import
        yield RecordError(
            source=source_name,
            record=label,
            message=f"{label} could not be read: {type(exc).__name__}: {exc}",
        )
        return
    yield from errors
    yield conversation


def _conversation(
    record: dict[str, Any],
    inner: dict[str, Any],
    history: dict[str, Any],
    title: str,
    chat_id: str | None,
    label: str,
    source_name: str,
    errors: list[RecordError],
) -> ParsedConversation:
    nodes = _collect_messages(history, inner)
    created = _epoch(record.get("created_at")) or _epoch(inner.get("timestamp"))
    if chat_id is None:
        first = next(iter(nodes), "")
        raw_time = record.get("created_at") or inner.get("timestamp")
        chat_id = derived_id(PROVIDER, title, str(raw_time), first)

    kept: dict[str, dict[str, Any]] = {}
    for key, msg in nodes.items():
        role = msg.get("role")
        if isinstance(role, str) and role in ROLES:
            kept[key] = msg
        else:
            errors.append(
                RecordError(
                    source=source_name,
                    record=f"{label} message {key!r}",
                    message=f"{label}: message {key!r} has unknown role {role!r}; skipped",
                )
            )
    parents = {key: _kept_ancestor(nodes, key, kept) for key in kept}
    current = _current_path(kept, parents, history.get("currentId"))
    messages = [_message(kept[key], key, parents[key], key in current) for key in _tree_order(kept, parents)]

    models = inner.get("models")
    model = next((m for m in models if isinstance(m, str) and m), None) if isinstance(models, list) else None
    model = model or next((m.model for m in messages if m.model), None)
    times = [m.created_at for m in messages if m.created_at is not None]
    metadata: dict[str, Any] = {k: record[k] for k in _CONVERSATION_METADATA if record.get(k) is not None}
    tags = _tags(record, inner)
    if tags:
        metadata["tags"] = tags
    if isinstance(inner.get("params"), dict) and inner["params"]:
        metadata["params"] = inner["params"]
    return ParsedConversation(
        provider=PROVIDER,
        source_id=chat_id,
        title=title or _title_from(messages),
        messages=messages,
        model=model,
        created_at=created or (min(times) if times else None),
        updated_at=_epoch(record.get("updated_at")) or _latest(created, times),
        metadata=metadata,
    )


# --- the message tree --------------------------------------------------------------------


def _collect_messages(history: dict[str, Any], inner: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    by_key = history.get("messages")
    if isinstance(by_key, dict):
        for key, msg in by_key.items():
            if isinstance(msg, dict):
                nodes[str(msg.get("id") or key)] = msg
    listed = inner.get("messages")
    for index, msg in enumerate(listed if isinstance(listed, list) else ()):
        if not isinstance(msg, dict):
            continue
        key = str(msg.get("id") or derived_id(PROVIDER, "list-message", str(index)))
        nodes.setdefault(key, msg)
    return nodes


def _parent_key(nodes: dict[str, dict[str, Any]], key: str) -> str | None:
    parent = nodes[key].get("parentId")
    return parent if isinstance(parent, str) and parent in nodes and parent != key else None


def _kept_ancestor(nodes: dict[str, dict[str, Any]], key: str, kept: dict[str, dict[str, Any]]) -> str | None:
    seen = {key}
    parent = _parent_key(nodes, key)
    while parent is not None and parent not in kept and parent not in seen:
        seen.add(parent)
        parent = _parent_key(nodes, parent)
    return parent if parent in kept and parent not in seen else None


def _tree_order(kept: dict[str, dict[str, Any]], parents: dict[str, str | None]) -> list[str]:
    """Message keys parents first; siblings in ``childrenIds`` order, then by time."""
    children: dict[str | None, list[str]] = {}
    for key in kept:
        children.setdefault(parents[key], []).append(key)
    for parent, keys in children.items():
        listed = kept[parent].get("childrenIds") if parent is not None else None
        rank = {k: i for i, k in enumerate(listed)} if isinstance(listed, list) else {}
        keys.sort(key=lambda k: (rank.get(k, len(rank)), _sort_time(kept[k])))
    order: list[str] = []
    seen: set[str] = set()
    stack = list(reversed(children.get(None, [])))
    while stack:  # iterative: long chats are thousands of messages deep
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        order.append(key)
        stack.extend(reversed(children.get(key, [])))
    order.extend(k for k in kept if k not in seen)  # parent cycles: keep them anyway
    return order


def _sort_time(msg: dict[str, Any]) -> float:
    value = msg.get("timestamp")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _current_path(
    kept: dict[str, dict[str, Any]], parents: dict[str, str | None], current_id: Any
) -> set[str]:
    tip = current_id if isinstance(current_id, str) and current_id in kept else None
    if tip is None and kept:
        # Without currentId the newest message is what the user last saw.
        tip = max(enumerate(kept), key=lambda pair: (_sort_time(kept[pair[1]]), pair[0]))[1]
    path: set[str] = set()
    while tip is not None and tip not in path:
        path.add(tip)
        tip = parents.get(tip)
    return path


# --- one message -------------------------------------------------------------------------


def _message(msg: dict[str, Any], key: str, parent: str | None, on_path: bool) -> ParsedMessage:
    role = msg["role"]
    parts = _content_parts(msg.get("content"))
    parts.extend(_file_parts(msg.get("files")))
    parts.extend(_source_parts(msg.get("sources") or msg.get("citations")))
    metadata: dict[str, Any] = {}
    for name in ("usage", "annotation", "info"):
        if msg.get(name):
            metadata[name] = msg[name]
    status = "completed"
    if msg.get("error"):
        status = "error"
        metadata["error"] = msg["error"]
    elif msg.get("done") is False:
        status = "incomplete"
    model = msg.get("model") if isinstance(msg.get("model"), str) and msg.get("model") else None
    author = _first_str(msg.get("modelName"), model) if role == "assistant" else None
    return ParsedMessage(
        source_id=key,
        role=role,
        parts=parts,
        parent_source_id=parent,
        author=author,
        created_at=_epoch(msg.get("timestamp")),
        model=model,
        status=status,
        on_current_path=on_path,
        metadata=metadata,
    )


def _content_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return _markdown_with_details(content)
    out: list[Part] = []
    for item in content if isinstance(content, list) else ():
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            out.extend(_markdown_with_details(item["text"]))
        elif kind == "image_url" and isinstance(item.get("image_url"), dict):
            out.append(_image_ref(item["image_url"].get("url")))
        else:
            out.append(P.unknown(f"openwebui.{kind}" if kind else "openwebui.content", item))
    return out


def _markdown_with_details(text: str) -> list[Part]:
    """Markdown text with Open WebUI's ``<details>`` and ``<think>`` blocks lifted out."""
    if "<details" not in text and not _THINK.match(text):
        return split_markdown(text)
    out: list[Part] = []
    position = 0
    for match in _DETAILS.finditer(text):
        attrs = {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(match.group(1))}
        if attrs.get("type") not in _LIFTED_DETAILS:
            continue
        before = text[position : match.start()]
        out.extend(_with_think(before) if position == 0 else split_markdown(before.strip("\n")))
        out.extend(_details_parts(attrs, match.group(2)))
        position = match.end()
    rest = text[position:]
    out.extend(_with_think(rest) if position == 0 else split_markdown(rest.strip("\n")))
    return out


def _with_think(text: str) -> list[Part]:
    # The line breaks that separated a lifted block from the prose belong to the block.
    out: list[Part] = []
    match = _THINK.match(text)
    if match:
        if match.group(1).strip():
            out.append(P.thinking(match.group(1).strip()))
        text = text[match.end() :]
    out.extend(split_markdown(text.strip("\n")))
    return out


def _details_parts(attrs: dict[str, str], body: str) -> list[Part]:
    summary_match = _SUMMARY.search(body)
    summary = html.unescape(summary_match.group(1)).strip() if summary_match else None
    inner = _SUMMARY.sub("", body, count=1).strip("\n")
    kind = attrs["type"]
    if kind == "reasoning":
        # Open WebUI quotes each reasoning line with "> " for display.
        lines = [re.sub(r"^\s*>\s?", "", line) for line in inner.split("\n")]
        return [P.thinking("\n".join(lines).strip(), summary=summary or None)]
    if kind == "tool_calls":
        call_id = attrs.get("id") or None
        name = attrs.get("name") or None
        out: list[Part] = [P.tool_call(name, _json_or_text(attrs.get("arguments")), call_id=call_id)]
        if "result" in attrs:
            out.append(P.tool_result(_json_or_text(attrs["result"]), call_id=call_id, name=name))
        return out
    out = split_markdown(html.unescape(inner))
    if attrs.get("output"):
        out.append(P.tool_result(_json_or_text(attrs["output"]), name="code_interpreter"))
    return out


def _json_or_text(value: str | None) -> Any:
    if value is None or value == "":
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _file_parts(files: Any) -> list[Part]:
    out: list[Part] = []
    for item in files if isinstance(files, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "image":
            out.append(_image_ref(item.get("url")))
            continue
        file = item.get("file") if isinstance(item.get("file"), dict) else {}
        meta = file.get("meta") if isinstance(file.get("meta"), dict) else {}
        data = file.get("data") if isinstance(file.get("data"), dict) else {}
        name = _first_str(item.get("name"), file.get("filename"), meta.get("name"))
        size = item.get("size") if isinstance(item.get("size"), int) else meta.get("size")
        content = data.get("content")
        out.append(
            P.attachment(
                name,
                content if isinstance(content, str) and content else None,
                mime_type=_first_str(meta.get("content_type"), item.get("content_type")),
                size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
                ref=_first_str(item.get("id"), file.get("id"), item.get("url")),
            )
        )
    return out


def _image_ref(url: Any) -> Part:
    if not isinstance(url, str) or not url:
        return P.image(None)
    if url.startswith("data:"):
        # Bytes are never inlined; keep what the data URI says about them.
        mime = url[5:].split(";", 1)[0].split(",", 1)[0] or None
        return P.image(None, mime_type=mime)
    return P.image(url)


def _source_parts(sources: Any) -> list[Part]:
    out: list[Part] = []
    for item in sources if isinstance(sources, list) else ():
        if not isinstance(item, dict):
            continue
        source = item.get("source") if isinstance(item.get("source"), dict) else {}
        documents = item.get("document") if isinstance(item.get("document"), list) else []
        metas = item.get("metadata") if isinstance(item.get("metadata"), list) else []
        if not documents:
            out.append(P.citation(url=_url(source.get("url")), title=_first_str(source.get("name"))))
            continue
        for i, document in enumerate(documents):
            meta = metas[i] if i < len(metas) and isinstance(metas[i], dict) else {}
            out.append(
                P.citation(
                    url=_url(meta.get("source")) or _url(source.get("url")),
                    title=_first_str(meta.get("name"), meta.get("title"), source.get("name")),
                    text=document if isinstance(document, str) and document else None,
                    source=_first_str(source.get("type")),
                )
            )
    return out


# --- small helpers -------------------------------------------------------------------------


def _epoch(value: Any) -> datetime | None:
    # Open WebUI has written seconds, milliseconds and (for some rows) nanoseconds.
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        while v > 1e14:
            v /= 1000.0
        return parse_time(v)
    return parse_time(value)


def _latest(created: datetime | None, times: list[datetime]) -> datetime | None:
    candidates = [t for t in [created, *times] if t is not None]
    return max(candidates) if candidates else None


def _tags(record: dict[str, Any], inner: dict[str, Any]) -> list[str]:
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    out: list[str] = []
    for tag in list(inner.get("tags") or ()) + list(meta.get("tags") or ()):
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name and name not in out:
            out.append(name)
    return out


def _title_from(messages: list[ParsedMessage]) -> str:
    for message in messages:
        if message.role == "user":
            text = " ".join(P.message_text(message.parts).split())
            if text:
                return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1].rstrip() + "…"
    return "Untitled"


def _first_str(*values: Any) -> str | None:
    return next((v for v in values if isinstance(v, str) and v), None)


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None
