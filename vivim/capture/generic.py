"""vivim's own interchange format, ``vivim.conversations/v1`` (import and export).

One JSON document: ``{"format": "vivim.conversations/v1", "conversations": [...]}``. It is
what ``vivim export`` writes and what any other tool can write to bring conversations in.
The full specification (every field, defaults, validation errors) is ``docs/FORMATS.md``.

Import is strict: a conversation that breaks a rule is not guessed at but reported as one
:class:`RecordError` naming the conversation (index and id) and listing every problem with
its message index; the conversations around it still import. ``conversations`` is streamed
(ijson), so a document of any size is read in bounded memory; ``format`` should therefore
come first (a wrong or missing ``format`` found only after the conversations is reported
after them).

Export (:func:`conversation_to_generic`, :func:`write_document`) writes every field of
:class:`ParsedConversation` and :class:`ParsedMessage`, parts exactly as stored, so parsing
an export gives back equal values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import ijson

from vivim.capture.base import ParseItem, Source
from vivim.capture.markdown import split_markdown
from vivim.domain.conversation import ROLES, ParsedConversation, ParsedMessage, RecordError
from vivim.domain.parts import PART_TYPES, Part
from vivim.domain.times import to_iso

FORMAT = "vivim.conversations/v1"
DEFAULT_PROVIDER = "generic"
MAX_LISTED_PROBLEMS = 20

_UTF8_BOM = b"\xef\xbb\xbf"
_FORMAT_MARKER = re.compile(rb'"format"\s*:\s*"vivim\.conversations/v1"')


class GenericParser:
    name = "vivim-json"

    def sniff(self, head: bytes, source_name: str) -> bool:
        body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        return body.lstrip()[:1] == b"{" and bool(_FORMAT_MARKER.search(body))

    def parse(self, source: Source) -> Iterator[ParseItem]:
        seen: dict[str, Any] = {}
        index = 0

        def tap(events: Iterable[tuple[str, str, Any]]) -> Iterator[tuple[str, str, Any]]:
            for prefix, event, value in events:
                if prefix == "format" and "format" not in seen:
                    seen["format"] = value
                    if value != FORMAT:
                        return  # not this format: read no further
                yield prefix, event, value

        try:
            with source.open() as f:
                reader = _SkipBom(f)
                events = ijson.parse(reader, use_float=True)
                for record in ijson.items(tap(events), "conversations.item"):
                    yield _conversation_or_error(record, index, source.name)
                    index += 1
        except Exception as exc:  # noqa: BLE001 - a broken document ends this input only
            detail = str(exc).strip().split("\n", 1)[0] or type(exc).__name__
            yield RecordError(
                source=source.name,
                record=f"conversation {index}",
                message=(f"{source.name}: invalid or truncated JSON after {index} conversations: {detail}"),
            )
            return
        found = seen.get("format")
        if found != FORMAT:
            what = 'has no "format" key' if "format" not in seen else f"has format {found!r}"
            yield RecordError(
                source=source.name,
                record="document",
                message=f"{source.name}: not a {FORMAT} document (it {what})",
                code="wrong_format",
            )


PARSER = GenericParser()


class _SkipBom:
    """Reads a byte stream without its UTF-8 byte order mark (ijson rejects one)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._first = True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if self._first and data:
            # ijson probes with read(0) first; the mark is in the first non-empty read.
            self._first = False
            data = data.removeprefix(_UTF8_BOM)
        return data


# --- reading -----------------------------------------------------------------------------


def _conversation_or_error(record: Any, index: int, source_name: str) -> ParseItem:
    raw_id = record.get("id") if isinstance(record, dict) else None
    label = f"conversation {index}" + (f" (id {raw_id!r})" if isinstance(raw_id, str) and raw_id else "")
    problems: list[str] = []
    try:
        conversation = _read_conversation(record, problems)
    except Exception as exc:  # noqa: BLE001 - one odd record must not stop the import
        problems.append(f"could not be read: {type(exc).__name__}: {exc}")
        conversation = None
    if conversation is not None and not problems:
        return conversation
    shown = problems[:MAX_LISTED_PROBLEMS]
    more = len(problems) - len(shown)
    message = f"{label}: " + "; ".join(shown) + (f"; and {more} more" if more else "")
    return RecordError(source=source_name, record=label, message=message, code="invalid_record")


def _read_conversation(record: Any, problems: list[str]) -> ParsedConversation | None:
    if not isinstance(record, dict):
        problems.append(f"is a JSON {type(record).__name__}, not an object")
        return None
    conv_id = record.get("id")
    if not isinstance(conv_id, str) or not conv_id:
        problems.append('missing "id" (a non-empty string)')
    title = _optional_str(record, "title", problems) or ""
    provider = _optional_str(record, "provider", problems) or DEFAULT_PROVIDER
    model = _optional_str(record, "model", problems)
    url = _optional_str(record, "url", problems)
    created = _optional_time(record, "created_at", problems)
    updated = _optional_time(record, "updated_at", problems)
    metadata = _optional_object(record, "metadata", problems)
    instructions = record.get("custom_instructions")
    if instructions is None:
        instructions = []
    elif not isinstance(instructions, list) or not all(isinstance(i, str) for i in instructions):
        problems.append('"custom_instructions" must be a list of strings')
        instructions = []

    raw_messages = record.get("messages")
    if not isinstance(raw_messages, list):
        problems.append('missing "messages" (a list)')
        raw_messages = []
    messages: list[ParsedMessage] = []
    positions: dict[str, int] = {}
    links: list[tuple[int, str, str]] = []
    for m_index, raw in enumerate(raw_messages):
        message = _read_message(raw, m_index, positions, links, problems)
        if message is not None:
            messages.append(message)
    _check_parents(links, positions, problems)
    if problems:
        return None
    return ParsedConversation(
        provider=provider,
        source_id=str(conv_id),
        title=title,
        messages=messages,
        model=model,
        source_url=url,
        created_at=created,
        updated_at=updated,
        metadata=metadata,
        custom_instructions=list(instructions),
    )


def _read_message(
    raw: Any,
    index: int,
    positions: dict[str, int],
    links: list[tuple[int, str, str]],
    problems: list[str],
) -> ParsedMessage | None:
    where = f"message {index}"
    if not isinstance(raw, dict):
        problems.append(f"{where} is a JSON {type(raw).__name__}, not an object")
        return None
    before = len(problems)
    msg_id = raw.get("id")
    if not isinstance(msg_id, str) or not msg_id:
        problems.append(f'{where}: missing "id" (a non-empty string)')
        msg_id = None
    else:
        where = f"message {index} (id {msg_id!r})"
        if msg_id in positions:
            problems.append(f"{where}: duplicate id (also message {positions[msg_id]})")
        else:
            positions[msg_id] = index
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLES:
        problems.append(f"{where}: role {role!r} is not one of {', '.join(sorted(ROLES))}")
    parent = raw.get("parent_id")
    if parent is not None and (not isinstance(parent, str) or not parent):
        problems.append(f'{where}: "parent_id" must be a message id or null')
    elif parent is not None and msg_id is not None:
        links.append((index, msg_id, parent))
    sub: list[str] = []
    author = _optional_str(raw, "author", sub)
    created = _optional_time(raw, "created_at", sub)
    model = _optional_str(raw, "model", sub)
    status = _optional_str(raw, "status", sub) or "completed"
    finish = _optional_str(raw, "finish_reason", sub)
    hidden = _optional_bool(raw, "hidden", False, sub)
    on_path = _optional_bool(raw, "on_current_path", True, sub)
    metadata = _optional_object(raw, "metadata", sub)
    parts = _message_parts(raw, sub)
    problems.extend(f"{where}: {p}" for p in sub)
    if len(problems) > before or msg_id is None:
        return None
    return ParsedMessage(
        source_id=msg_id,
        role=str(role),
        parts=parts,
        parent_source_id=parent,
        author=author,
        created_at=created,
        model=model,
        status=status,
        finish_reason=finish,
        hidden=hidden,
        on_current_path=on_path,
        metadata=metadata,
    )


def _message_parts(raw: dict[str, Any], problems: list[str]) -> list[Part]:
    has_text, has_parts = raw.get("text") is not None, raw.get("parts") is not None
    if has_text and has_parts:
        problems.append('has both "text" and "parts" (give one)')
        return []
    if has_text:
        if not isinstance(raw["text"], str):
            problems.append('"text" must be a string')
            return []
        return split_markdown(raw["text"])
    if not has_parts:
        problems.append('has neither "text" nor "parts"')
        return []
    parts = raw["parts"]
    if not isinstance(parts, list):
        problems.append('"parts" must be a list')
        return []
    out: list[Part] = []
    for p_index, part in enumerate(parts):
        if not isinstance(part, dict):
            problems.append(f"part {p_index} is a JSON {type(part).__name__}, not an object")
        elif part.get("type") not in PART_TYPES:
            problems.append(
                f"part {p_index} has unknown type {part.get('type')!r} "
                f"(known: {', '.join(sorted(PART_TYPES))})"
            )
        else:
            out.append(part)
    return out


def _check_parents(links: list[tuple[int, str, str]], positions: dict[str, int], problems: list[str]) -> None:
    parents = {msg_id: parent for _, msg_id, parent in links}
    for index, msg_id, parent in links:
        where = f"message {index} (id {msg_id!r})"
        if parent == msg_id:
            problems.append(f"{where}: is its own parent")
        elif parent not in positions:
            problems.append(f"{where}: parent_id {parent!r} is not a message of this conversation")
        else:
            seen = {msg_id}
            step: str | None = parent
            while step is not None and step not in seen:
                seen.add(step)
                step = parents.get(step)
            if step is not None:
                problems.append(f"{where}: parent_id chain loops back on itself")


def _optional_str(d: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f'"{key}" must be a string or null, not {type(value).__name__}')
    return None


def _optional_bool(d: dict[str, Any], key: str, default: bool, problems: list[str]) -> bool:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    problems.append(f'"{key}" must be true or false')
    return default


def _optional_object(d: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    problems.append(f'"{key}" must be an object')
    return {}


def _optional_time(d: dict[str, Any], key: str, problems: list[str]) -> datetime | None:
    value = d.get(key)
    if value is None:
        return None
    parsed = parse_iso(value)
    if parsed is None:
        problems.append(f'"{key}" {value!r} is not an ISO 8601 timestamp')
    return parsed


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 string as an aware UTC datetime (no offset means UTC); else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- writing -------------------------------------------------------------------------------


def conversation_to_generic(conv: ParsedConversation) -> dict[str, Any]:
    """One conversation as a ``vivim.conversations/v1`` object (every field, parts as stored)."""
    return {
        "id": conv.source_id,
        "title": conv.title,
        "provider": conv.provider,
        "model": conv.model,
        "url": conv.source_url,
        "created_at": to_iso(conv.created_at),
        "updated_at": to_iso(conv.updated_at),
        "custom_instructions": list(conv.custom_instructions),
        "metadata": conv.metadata,
        "messages": [_message_to_generic(m) for m in conv.messages],
    }


def _message_to_generic(message: ParsedMessage) -> dict[str, Any]:
    return {
        "id": message.source_id,
        "parent_id": message.parent_source_id,
        "role": message.role,
        "author": message.author,
        "created_at": to_iso(message.created_at),
        "model": message.model,
        "status": message.status,
        "finish_reason": message.finish_reason,
        "hidden": message.hidden,
        "on_current_path": message.on_current_path,
        "metadata": message.metadata,
        "parts": message.parts,
    }


def document(conversations: Iterable[ParsedConversation]) -> dict[str, Any]:
    """A whole ``vivim.conversations/v1`` document as one value (small exports, tests)."""
    return {"format": FORMAT, "conversations": [conversation_to_generic(c) for c in conversations]}


def write_document(conversations: Iterable[ParsedConversation], out: TextIO) -> int:
    """Stream a document to ``out`` one conversation at a time; returns how many were written.

    ``format`` is written first so a reader can reject a wrong file before the conversations.
    """
    out.write('{"format": ' + json.dumps(FORMAT) + ', "conversations": [')
    count = 0
    for conv in conversations:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(conversation_to_generic(conv), ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count
