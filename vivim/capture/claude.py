"""Claude data export (``conversations.json``): conversations with ``chat_messages``.

Newer exports give each message typed ``content`` blocks and a ``parent_message_uuid``
(retries and edits make branches); older ones only a ``text`` field with artifacts inlined as
``<antArtifact>`` tags, and no parent links, in which case the messages form one chain in
time order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
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
_CHAT_MESSAGES_KEY = re.compile(rb'(?<!\\)"chat_messages"\s*:\s*\[')

_ROLES = {"human": "user", "user": "user", "assistant": "assistant"}
_INLINE_TAG = re.compile(
    r"<antArtifact\b([^>]*)>(.*?)(?:</antArtifact>|\Z)|<antThinking>(.*?)(?:</antThinking>|\Z)",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"')
# Artifact MIME types and the language their content is written in.
_ARTIFACT_LANGUAGES = {
    "text/html": "html",
    "image/svg+xml": "svg",
    "application/vnd.ant.react": "jsx",
    "text/markdown": "markdown",
    "application/vnd.ant.mermaid": "mermaid",
}
_CONVERSATION_METADATA_KEYS = ("summary", "project", "is_starred")


class ClaudeParser:
    name = "claude"

    def sniff(self, head: bytes, source_name: str) -> bool:
        return bool(_CHAT_MESSAGES_KEY.search(head))

    def parse(self, source: Source) -> Iterator[ParseItem]:
        return parse_records(source, _conversation_or_error)


PARSER = ClaudeParser()


def _conversation_or_error(record: dict[str, Any], index: int, source_name: str) -> ParseItem:
    name = record.get("name") if isinstance(record.get("name"), str) else ""
    label = f"record {index} {name!r}"
    chat_messages = record.get("chat_messages")
    if not isinstance(chat_messages, list):
        return RecordError(
            source=source_name,
            record=label,
            message=f"conversation {label} (uuid {record.get('uuid')}) has no chat_messages list; skipped",
        )
    try:
        return _conversation(record, chat_messages, name)
    except Exception as exc:  # one odd record must not stop the import
        return RecordError(
            source=source_name,
            record=label,
            message=f"conversation {label} could not be read: {type(exc).__name__}: {exc}",
        )


def _conversation(record: dict[str, Any], chat_messages: list[Any], name: str) -> ParsedConversation:
    uuid = record.get("uuid")
    conv_id = str(uuid) if uuid else derived_id("claude", name, str(record.get("created_at")))
    raw = [m for m in chat_messages if isinstance(m, dict)]
    ids = [str(m.get("uuid") or derived_id(conv_id, str(i))) for i, m in enumerate(raw)]
    times = [parse_time(m.get("created_at")) for m in raw]

    order = list(range(len(raw)))
    if all(t is not None for t in times):
        # Old exports list messages out of order; stable, so equal timestamps keep file order.
        order.sort(key=lambda i: times[i] or datetime.min)

    known = set(ids)
    parents: dict[str, str | None] = {}
    previous: str | None = None
    for i in order:
        link = raw[i].get("parent_message_uuid")
        if isinstance(link, str) and link:
            # A parent outside the conversation is the export's all-zero root marker.
            parents[ids[i]] = link if link in known and link != ids[i] else None
        else:
            parents[ids[i]] = previous
        previous = ids[i]

    current = _current_path(record.get("current_leaf_message_uuid"), ids, order, parents)
    messages = [_message(raw[i], ids[i], parents[ids[i]], times[i], ids[i] in current) for i in order]
    created = parse_time(record.get("created_at"))
    return ParsedConversation(
        provider="claude",
        source_id=conv_id,
        title=name,
        messages=messages,
        model=record.get("model") if isinstance(record.get("model"), str) else None,
        source_url=f"https://claude.ai/chat/{uuid}" if uuid else None,
        created_at=created,
        updated_at=parse_time(record.get("updated_at")) or created,
        metadata={k: record[k] for k in _CONVERSATION_METADATA_KEYS if record.get(k) is not None},
    )


def _current_path(leaf: Any, ids: list[str], order: list[int], parents: dict[str, str | None]) -> set[str]:
    if not isinstance(leaf, str) or leaf not in parents:
        leaf = ids[order[-1]] if order else None
    path: set[str] = set()
    while leaf is not None and leaf not in path:
        path.add(leaf)
        leaf = parents.get(leaf)
    return path


def _message(
    m: dict[str, Any],
    source_id: str,
    parent: str | None,
    created: datetime | None,
    on_current_path: bool,
) -> ParsedMessage:
    sender = m.get("sender")
    role = _ROLES.get(sender, "system") if isinstance(sender, str) else "system"
    parts: list[Part] = []
    content = m.get("content")
    if isinstance(content, list):
        for block in content:
            parts.extend(_block_parts(block))
    if not parts and isinstance(m.get("text"), str):
        # Old exports carry only ``text``; newer ones repeat the text blocks there.
        parts = text_parts(m["text"])
    parts.extend(_attachment_parts(m))
    metadata: dict[str, Any] = {}
    if sender not in _ROLES:
        metadata["sender"] = sender
    return ParsedMessage(
        source_id=source_id,
        role=role,
        parts=parts,
        parent_source_id=parent,
        created_at=created,
        on_current_path=on_current_path,
        metadata=metadata,
    )


def _block_parts(block: Any) -> list[Part]:
    if not isinstance(block, dict):
        return [P.unknown(None, block)]
    kind = block.get("type")
    if kind == "text":
        value = block.get("text")
        out = text_parts(value) if isinstance(value, str) else []
        out.extend(_citations(block.get("citations")))
        return out
    if kind == "thinking":
        value = block.get("thinking")
        if not isinstance(value, str) or not value:
            return []
        summaries = [
            s["summary"]
            for s in block.get("summaries") or ()
            if isinstance(s, dict) and isinstance(s.get("summary"), str) and s["summary"]
        ]
        return [P.thinking(value, "\n".join(summaries) or None)]
    if kind == "tool_use":
        return _tool_use(block)
    if kind == "tool_result":
        return [
            P.tool_result(
                _tool_result_content(block.get("content")),
                call_id=block.get("tool_use_id"),
                is_error=bool(block.get("is_error")),
                name=block.get("name"),
            )
        ]
    return [P.unknown(kind if isinstance(kind, str) else None, block)]


def _tool_use(block: dict[str, Any]) -> list[Part]:
    name = block.get("name")
    args = block.get("input")
    out = [P.tool_call(name, args, block.get("id"))]
    # Newer exports carry artifacts as calls to the "artifacts" tool; their content is code.
    if name == "artifacts" and isinstance(args, dict) and isinstance(args.get("content"), str):
        attrs = {k: v for k, v in args.items() if k != "content" and isinstance(v, str)}
        if "id" in attrs and "identifier" not in attrs:
            attrs["identifier"] = attrs["id"]
        out.append(_artifact_part(attrs, args["content"]))
    return out


def _tool_result_content(content: Any) -> Any:
    if isinstance(content, list) and all(
        isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str) for c in content
    ):
        return "\n".join(c["text"] for c in content)
    return content


def _citations(citations: Any) -> list[Part]:
    out: list[Part] = []
    for c in citations or ():
        details = c.get("details") if isinstance(c, dict) else None
        if isinstance(details, dict) and isinstance(details.get("url"), str):
            out.append(P.citation(url=details["url"], title=details.get("title"), source="claude"))
    return out


def text_parts(text: str) -> list[Part]:
    """Parts of a Claude message text: inline artifacts and thinking tags, then markdown."""
    if "<ant" not in text:
        return split_markdown(text)
    out: list[Part] = []
    pos = 0
    for m in _INLINE_TAG.finditer(text):
        out.extend(_prose(text[pos : m.start()]))
        if m.group(3) is not None:
            thought = m.group(3).strip()
            if thought:
                out.append(P.thinking(thought))
        else:
            attrs = dict(_ATTRIBUTE.findall(m.group(1)))
            out.append(_artifact_part(attrs, m.group(2)))
        pos = m.end()
    out.extend(_prose(text[pos:]))
    return out


def _prose(piece: str) -> list[Part]:
    # The blank lines around a tag belong to the layout, not to the neighbouring prose.
    return split_markdown(piece.lstrip("\n").rstrip())


def _artifact_part(attrs: dict[str, str], body: str) -> Part:
    body = body.strip("\n")
    kind = attrs.get("type")
    language = attrs.get("language") or _ARTIFACT_LANGUAGES.get(kind or "")
    part = P.mermaid(body) if language == "mermaid" else P.code(body, language)
    for key in ("title", "identifier"):
        if attrs.get(key):
            part[key] = attrs[key]
    if kind:
        part["artifact_type"] = kind
    return part


def _attachment_parts(m: dict[str, Any]) -> list[Part]:
    out: list[Part] = []
    for a in m.get("attachments") or ():
        if isinstance(a, dict):
            size = a.get("file_size")
            out.append(
                P.attachment(
                    a.get("file_name"),
                    a.get("extracted_content") or None,
                    mime_type=a.get("file_type") or None,
                    size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
                    ref=a.get("id"),
                )
            )
    for f in m.get("files") or ():
        if isinstance(f, dict):
            out.append(P.attachment(f.get("file_name"), ref=f.get("file_uuid")))
    return out
