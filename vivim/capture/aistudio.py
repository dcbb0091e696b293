"""Google AI Studio prompt files (what AI Studio saves to Drive, one chat per file).

A file is one JSON object: ``runSettings`` (model, temperature, ...), an optional
``systemInstruction`` (``{"text": ...}`` or ``{"parts": [{"text": ...}]}``) and
``chunkedPrompt.chunks``, the turns in order. Each chunk becomes one message:

- ``role`` ``user`` -> user, ``model`` -> assistant (``system`` and ``function``/``tool``
  map to system and tool); any other role is a :class:`RecordError` for that chunk, and the
  conversation keeps the others;
- ``text`` is markdown, split into parts (:func:`vivim.capture.markdown.split_markdown`);
  with ``isThought`` it is one ``thinking`` part. When ``text`` is empty the text items of
  ``parts`` are used instead (``thought: true`` items as thinking); when ``text`` is present
  the text items of ``parts`` repeat it and are ignored, their other items still count;
- ``executableCode`` -> ``code``; ``codeExecutionResult`` -> ``tool_result`` (named
  ``code_execution``, an error unless the outcome is ``OUTCOME_OK``); ``functionCall`` ->
  ``tool_call``; ``functionResponse`` -> ``tool_result``;
- ``driveDocument`` / ``driveVideo`` / ``fileData`` -> ``attachment`` (``ref`` ``drive:<id>``
  or the file URI); ``driveImage`` -> ``image``; ``inlineImage`` / ``inlineData`` /
  ``inlineFile`` -> ``image`` for ``image/*`` MIME types, else ``attachment``, with the decoded
  size but never the bytes; ``youtubeVideo`` -> ``attachment`` referencing the video URL;
- ``grounding.groundingChunks[].web`` -> ``citation`` parts;
- ``finishReason`` -> ``finish_reason``; ``errorMessage`` -> status ``error`` with the
  message in metadata; ``tokenCount``, ``isEdited``, ``thinkingBudget``, ``safetyRatings``,
  ``branchParent``, ``branchChildren`` are kept in the message metadata (branches are
  metadata only: AI Studio branches into separate prompt files, so turns stay a chain);
- any other key holding an object or list becomes an ``unknown`` part (scalars go to
  ``metadata["extra"]``); ``thoughtSignature(s)`` (opaque model state) are dropped.

A chunk with no content at all (empty ``text`` and nothing else) makes no message; its id is
listed in the conversation's ``metadata["empty_chunks"]``.

A non-empty ``systemInstruction`` becomes a hidden system message before the first chunk.

**Ids.** The conversation's ``source_id`` is the file's ``id`` when it has one; otherwise it
is derived from the file name and the SHA-256 of the first chunk's canonical JSON (sorted
keys, compact), so the same file imports onto the same conversation and renaming a copy or
changing its first turn makes a new one. Message ids are the chunk ``id`` when present, else
derived from the conversation id and the chunk's position.

**Title.** ``displayName``; else the file name when it has no extension (AI Studio names its
Drive files after the prompt); else the first user text (80 characters); else the file stem.

The model is ``runSettings.model`` without its ``models/`` prefix. A prompt file is one
conversation, read whole: it is a single JSON object (inline images make it megabytes, not
gigabytes), so there is nothing to stream record by record.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from vivim.capture.base import ParseItem, Source
from vivim.capture.markdown import split_markdown
from vivim.domain import parts as P
from vivim.domain.conversation import ParsedConversation, ParsedMessage, RecordError
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part
from vivim.domain.times import parse_time

PROVIDER = "aistudio"
TITLE_LIMIT = 80

_UTF8_BOM = b"\xef\xbb\xbf"
_CHUNKED_PROMPT_KEY = re.compile(rb'(?<!\\)"chunkedPrompt"\s*:\s*\{')
_ROLES = {"user": "user", "model": "assistant", "system": "system", "function": "tool", "tool": "tool"}
_METADATA_KEYS = {
    "tokenCount": "token_count",
    "isEdited": "is_edited",
    "thinkingBudget": "thinking_budget",
    "safetyRatings": "safety_ratings",
    "branchParent": "branch_parent",
    "branchChildren": "branch_children",
}
_HANDLED_KEYS = frozenset(
    {"id", "role", "text", "parts", "isThought", "createTime", "finishReason", "errorMessage",
     "grounding", "groundingMetadata", "thoughtSignature", "thoughtSignatures"}
    | set(_METADATA_KEYS)
)  # fmt: skip


class AIStudioParser:
    name = "aistudio"

    def sniff(self, head: bytes, source_name: str) -> bool:
        body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        return body.lstrip()[:1] == b"{" and bool(_CHUNKED_PROMPT_KEY.search(body))

    def parse(self, source: Source) -> Iterator[ParseItem]:
        file_name = _file_name(source.name)
        try:
            with source.open() as f:
                raw = f.read()
            if raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            data = json.loads(raw, parse_constant=_reject_constant)
        except Exception as exc:  # noqa: BLE001 - a broken file is reported, not raised
            detail = str(exc).split("\n", 1)[0] or type(exc).__name__
            yield RecordError(
                source=source.name,
                record="file",
                message=f"{source.name}: not a readable AI Studio prompt file (invalid JSON: {detail})",
            )
            return
        if not isinstance(data, dict) or not isinstance(data.get("chunkedPrompt"), dict):
            yield RecordError(
                source=source.name,
                record="file",
                message=f"{source.name}: not an AI Studio prompt file (no chunkedPrompt object)",
            )
            return
        errors: list[RecordError] = []
        try:
            conversation = _conversation(data, file_name, source.name, errors)
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop an import
            yield RecordError(
                source=source.name,
                record="file",
                message=f"{source.name}: prompt file could not be read: {type(exc).__name__}: {exc}",
            )
            return
        yield conversation
        yield from errors


PARSER = AIStudioParser()


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would make exports unreadable.
    raise ValueError(f"{name} is not a JSON value")


def _file_name(source_name: str) -> str:
    member = source_name.rsplit("!", 1)[-1]
    return re.split(r"[\\/]", member)[-1]


def _conversation(
    data: dict[str, Any], file_name: str, source_name: str, errors: list[RecordError]
) -> ParsedConversation:
    chunks_value = data["chunkedPrompt"].get("chunks")
    chunks: list[Any] = chunks_value if isinstance(chunks_value, list) else []
    conv_id = data.get("id") if isinstance(data.get("id"), str) and data.get("id") else None
    if conv_id is None:
        first = json.dumps(chunks[0] if chunks else None, sort_keys=True, separators=(",", ":"))
        conv_id = derived_id(PROVIDER, file_name, hashlib.sha256(first.encode()).hexdigest())

    run_settings = data.get("runSettings") if isinstance(data.get("runSettings"), dict) else {}
    model = run_settings.get("model")
    model = model.removeprefix("models/") if isinstance(model, str) and model else None

    messages: list[ParsedMessage] = []
    system = _system_message(data.get("systemInstruction"), conv_id)
    if system is not None:
        messages.append(system)
    empty: list[str] = []
    used: set[str] = {m.source_id for m in messages}
    for index, chunk in enumerate(chunks):
        label = f"chunk {index}" + (
            f" ({chunk['id']})" if isinstance(chunk, dict) and chunk.get("id") else ""
        )
        outcome = _chunk_message(chunk, index, conv_id, model, label)
        if isinstance(outcome, str):
            errors.append(
                RecordError(source=source_name, record=label, message=f"{file_name}: {label}: {outcome}")
            )
            continue
        if outcome is None:
            empty.append(str(chunk.get("id") or index))
            continue
        if outcome.source_id in used:
            outcome.source_id = derived_id(PROVIDER, conv_id, str(index), "duplicate")
        used.add(outcome.source_id)
        outcome.parent_source_id = messages[-1].source_id if messages else None
        messages.append(outcome)

    metadata: dict[str, Any] = {"file_name": file_name}
    if run_settings:
        metadata["run_settings"] = run_settings
    if empty:
        metadata["empty_chunks"] = empty
    pending = [p for p in data.get("pendingInputs") or () if isinstance(p, dict) and p.get("text")]
    if pending:
        metadata["pending_inputs"] = pending
    times = [m.created_at for m in messages if m.created_at is not None]
    created = parse_time(data.get("createTime")) or (min(times) if times else None)
    return ParsedConversation(
        provider=PROVIDER,
        source_id=conv_id,
        title=_title(data, file_name, messages),
        messages=messages,
        model=model,
        created_at=created,
        updated_at=parse_time(data.get("updateTime")) or (max(times) if times else created),
        metadata=metadata,
    )


def _system_message(value: Any, conv_id: str) -> ParsedMessage | None:
    texts: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            texts.append(value["text"])
        for item in value.get("parts") or ():
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                texts.append(item["text"])
    elif isinstance(value, str):
        texts.append(value)
    text = "\n\n".join(t for t in texts if t.strip())
    if not text:
        return None
    return ParsedMessage(
        source_id=derived_id(PROVIDER, conv_id, "systemInstruction"),
        role="system",
        parts=split_markdown(text),
        hidden=True,
    )


def _chunk_message(
    chunk: Any, index: int, conv_id: str, model: str | None, label: str
) -> ParsedMessage | str | None:
    """The chunk's message, None for an empty chunk, or why the chunk was rejected."""
    if not isinstance(chunk, dict):
        return f"is a JSON {type(chunk).__name__}, not a chunk object; skipped"
    raw_role = chunk.get("role")
    role = _ROLES.get(raw_role) if isinstance(raw_role, str) else None
    if role is None:
        return f"unknown role {raw_role!r} (expected user or model); skipped"

    metadata: dict[str, Any] = {}
    parts = _text_parts(chunk)
    items = chunk.get("parts")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            for key, value in item.items():
                if key not in ("text", "thought", "thoughtSignature"):
                    parts.extend(_content_parts(key, value))
    for key, value in chunk.items():
        if key in _HANDLED_KEYS:
            continue
        if isinstance(value, dict | list):
            parts.extend(_content_parts(key, value))
        else:
            metadata.setdefault("extra", {})[key] = value
    parts.extend(_citations(chunk.get("grounding")) + _citations(chunk.get("groundingMetadata")))

    for key, name in _METADATA_KEYS.items():
        if chunk.get(key) is not None:
            metadata[name] = chunk[key]
    status = "completed"
    if chunk.get("errorMessage"):
        status = "error"
        metadata["error_message"] = chunk["errorMessage"]
    if not parts and status == "completed":
        return None
    source_id = chunk.get("id") if isinstance(chunk.get("id"), str) and chunk.get("id") else None
    finish = chunk.get("finishReason")
    return ParsedMessage(
        source_id=source_id or derived_id(PROVIDER, conv_id, str(index)),
        role=role,
        parts=parts,
        created_at=parse_time(chunk.get("createTime")),
        model=model if role == "assistant" else None,
        status=status,
        finish_reason=finish if isinstance(finish, str) else None,
        metadata=metadata,
    )


def _text_parts(chunk: dict[str, Any]) -> list[Part]:
    thought = chunk.get("isThought") is True
    text = chunk.get("text")
    if isinstance(text, str) and text.strip():
        return [P.thinking(text)] if thought else split_markdown(text)
    out: list[Part] = []
    items = chunk.get("parts")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
            if thought or item.get("thought") is True:
                out.append(P.thinking(item["text"]))
            else:
                out.extend(split_markdown(item["text"]))
    return out


def _content_parts(key: str, value: Any) -> list[Part]:
    """Parts for one content key of a chunk (or of an item of its ``parts``)."""
    v = value if isinstance(value, dict) else {}
    if key == "executableCode" and isinstance(v.get("code"), str):
        language = v.get("language")
        return [P.code(v["code"], language.lower() if isinstance(language, str) else None)]
    if key == "codeExecutionResult" and isinstance(v, dict) and v:
        outcome = v.get("outcome")
        return [
            P.tool_result(
                v.get("output") if isinstance(v.get("output"), str) else "",
                name="code_execution",
                is_error=outcome not in (None, "OUTCOME_OK"),
            )
        ]
    if key == "functionCall" and isinstance(v.get("name"), str):
        return [P.tool_call(v["name"], v.get("args"), call_id=v.get("id"))]
    if key == "functionResponse" and isinstance(v.get("name"), str):
        return [P.tool_result(v.get("response"), call_id=v.get("id"), name=v["name"])]
    if key in ("driveDocument", "driveVideo") and v.get("id"):
        return [
            P.attachment(
                _str(v.get("name")) or str(v["id"]),
                mime_type=_str(v.get("mimeType")),
                size_bytes=_int(v.get("sizeBytes")),
                ref=f"drive:{v['id']}",
            )
        ]
    if key == "driveImage" and v.get("id"):
        return [P.image(f"drive:{v['id']}", mime_type=_str(v.get("mimeType")))]
    if key == "fileData" and v.get("fileUri"):
        mime = _str(v.get("mimeType"))
        if mime and mime.startswith("image/"):
            return [P.image(str(v["fileUri"]), mime_type=mime)]
        return [P.attachment(_str(v.get("displayName")), mime_type=mime, ref=str(v["fileUri"]))]
    if key in ("inlineImage", "inlineData", "inlineFile") and v:
        mime = _str(v.get("mimeType"))
        size = _base64_size(v.get("data"))
        if mime and mime.startswith("image/"):
            return [P.image(None, mime_type=mime, size_bytes=size)]
        return [P.attachment(_str(v.get("name") or v.get("displayName")), mime_type=mime, size_bytes=size)]
    if key == "youtubeVideo" and v.get("id"):
        video = str(v["id"])
        return [P.attachment(f"YouTube video {video}", ref=f"https://www.youtube.com/watch?v={video}")]
    return [P.unknown(f"aistudio.{key}", value)]


def _citations(value: Any) -> list[Part]:
    if not isinstance(value, dict):
        return []
    out: list[Part] = []
    for chunk in value.get("groundingChunks") or ():
        web = chunk.get("web") if isinstance(chunk, dict) else None
        if isinstance(web, dict) and (web.get("uri") or web.get("title")):
            out.append(P.citation(url=_str(web.get("uri")), title=_str(web.get("title")), source="web"))
    return out


def _title(data: dict[str, Any], file_name: str, messages: list[ParsedMessage]) -> str:
    display = data.get("displayName")
    if isinstance(display, str) and display.strip():
        return display.strip()
    if file_name and "." not in file_name:
        return file_name
    for message in messages:
        if message.role == "user":
            text = " ".join(P.message_text(message.parts).split())
            if text:
                return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1].rstrip() + "…"
    return file_name.rsplit(".", 1)[0] or "AI Studio prompt"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _base64_size(data: Any) -> int | None:
    # Computed from the length: decoding megabytes only to count them is wasted work.
    if not isinstance(data, str):
        return None
    significant = len("".join(data.split()).rstrip("="))
    return significant * 3 // 4
