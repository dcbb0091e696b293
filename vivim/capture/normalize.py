"""Parsed conversation -> the rows the user DB stores: stable ids, hashes, order, counters.

Everything here is deterministic: the same parsed input always yields the same ids and
hashes, which is what makes re-imports idempotent.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from functools import partial
from json import encoder as _json_encoder
from typing import Any

import orjson

from vivim.capture.tokens import count_tokens_many
from vivim.domain.conversation import ParsedConversation, ParsedMessage
from vivim.domain.ids import derived_id
from vivim.domain.parts import Part, message_text
from vivim.domain.stats import _PART_COUNTERS as PART_COUNTERS  # noqa: PLC2701
from vivim.domain.stats import empty_counters
from vivim.domain.times import to_iso
from vivim.store.user.conversations import ConversationRows, MessageRow


def _unserializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_dumps() -> Any:
    """Canonical JSON (sorted keys, compact, UTF-8 kept): what ``json.dumps(value,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, byte for byte.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which cost more than the
    encoding itself on message-sized values; this builds it once. Cycle checks are off:
    every value here comes from decoded JSON or the part constructors, which make none."""
    c_make_encoder = getattr(_json_encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # a Python without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    encode = c_make_encoder(
        None, _unserializable, _json_encoder.encode_basestring, None, ":", ",", True, False, True
    )
    join = "".join

    def dumps(value: Any) -> str:
        return join(encode(value, 0))

    return dumps


_stdlib_dumps = _make_dumps()
# orjson writes what the standard library writes (sorted keys, compact, UTF-8 kept, the
# same string escapes, shortest float digits) except for floats below 1e-4, which it
# writes without an exponent, a few exponents it spells differently, and NaN/Infinity,
# which it writes as null (valid JSON, where the standard library's are not). Output with
# a negative exponent ("1e-7") or "0.0000" in it goes through the standard library instead,
# so the bytes (and the content hashes over them) stay those of earlier imports. Substring
# tests come first: a regular expression over every output cost as much as the encoding.
# tests/unit/test_normalize.py compares the two on generated values.
_NEGATIVE_EXPONENT = re.compile(rb"\de-")
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _dumps(value: Any) -> str:
    """Canonical JSON (see :func:`_make_dumps`), about four times faster: two of these run
    for every imported message."""
    try:
        out = orjson.dumps(value, default=_unserializable, option=_ORJSON_OPTIONS)
    except TypeError:  # an integer over 64 bits, a key that is not a string, a lone surrogate
        return _stdlib_dumps(value)
    if b"0.0000" in out or (b"e-" in out and _NEGATIVE_EXPONENT.search(out) is not None):
        return _stdlib_dumps(value)
    return out.decode()


_blake2b = hashlib.blake2b
_new_row = partial(tuple.__new__, MessageRow)


def conversation_id(provider: str, source_id: str) -> str:
    return derived_id("conversation", provider, source_id)


def message_id(conv_id: str, source_id: str) -> str:
    return derived_id("message", conv_id, source_id)


def ordered(messages: list[ParsedMessage]) -> list[ParsedMessage]:
    """Parents before children, otherwise in the parser's order (which is chronological
    for every format we read). Messages whose parent is missing are treated as roots."""
    ids = {m.source_id for m in messages}
    seen: set[str] = set()
    for m in messages:
        if m.parent_source_id is not None and m.parent_source_id not in seen:
            break
        seen.add(m.source_id)
    else:
        return messages  # already parents first (the usual case)
    children: dict[str | None, list[ParsedMessage]] = {}
    for m in messages:
        parent = m.parent_source_id if m.parent_source_id in ids else None
        children.setdefault(parent, []).append(m)
    out: list[ParsedMessage] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        m = stack.pop()
        out.append(m)
        stack.extend(reversed(children.get(m.source_id, [])))
    if len(out) < len(messages):  # a parent cycle: keep the rest in parser order
        placed = {m.source_id for m in out}
        out.extend(m for m in messages if m.source_id not in placed)
    return out


def normalize(conv: ParsedConversation, *, with_tokens: bool = True) -> ConversationRows:
    """The rows for ``conv``. With ``with_tokens=False`` token counts are left at 0, for
    callers that never read them or count a whole batch at once (:func:`set_token_counts`).

    This runs once per imported message, so it is written for speed: ids and hashes are
    computed inline (the same bytes as ``derived_id`` and ``content_hash``) and each message
    id is derived once."""
    conv_id = conversation_id(conv.provider, conv.source_id)
    msgs = ordered(_dedupe(conv.messages))
    id_prefix = f"message\x1f{conv_id}\x1f"
    ids = {
        m.source_id: _blake2b(f"{id_prefix}{m.source_id}\x1f".encode(), digest_size=16).hexdigest()
        for m in msgs
    }
    texts = [_message_text(m.parts) for m in msgs]
    tokens = count_tokens_many(texts) if with_tokens else None
    counters = empty_counters()
    rows: list[MessageRow] = []
    hash_input: list[tuple[str, str, str, str]] = []
    words = characters = n_user = n_ai = n_tokens_total = 0
    for index, m in enumerate(msgs):
        text = texts[index]
        n_tokens = tokens[index] if tokens is not None else 0
        parts_json = _dumps(m.parts)
        role = m.role
        h = _blake2b(f"{role}\x1f{m.author or ''}\x1f{parts_json}".encode(), digest_size=16).hexdigest()
        parent = m.parent_source_id
        on_path = int(m.on_current_path)
        created = m.created_at
        if created is not None:
            # to_iso, inline for the usual value (already UTC)
            created = (
                created.isoformat(timespec="microseconds")[:26] + "Z"
                if created.tzinfo is UTC
                else to_iso(created)
            )
        rows.append(
            _new_row(
                (
                    ids[m.source_id],
                    conv_id,
                    m.source_id,
                    # Existing rows are matched by the provider's ids; parents are only kept if present.
                    ids.get(parent) if parent else None,
                    role,
                    m.author,
                    parts_json,
                    h,
                    created,
                    index,
                    m.status,
                    m.finish_reason,
                    m.model,
                    int(m.hidden),
                    on_path,
                    _dumps(m.metadata) if m.metadata else "{}",
                    n_tokens,
                    text,
                )
            )
        )
        hash_input.append((m.source_id, h, parent or "", "1" if on_path else "0"))
        if role == "user":
            n_user += 1
        elif role == "assistant":
            n_ai += 1
        words += len(text.split())
        characters += len(text)
        n_tokens_total += n_tokens
        for part in m.parts:
            key = PART_COUNTERS.get(part.get("type"))  # type: ignore[arg-type]
            if key:
                counters[key] += 1
    counters["message_count"] = len(rows)
    counters["user_message_count"] = n_user
    counters["ai_message_count"] = n_ai
    counters["total_words"] = words
    counters["total_characters"] = characters
    counters["total_tokens"] = n_tokens_total
    meta_json = _dumps(conv.metadata) if conv.metadata else "{}"
    conv_hash = _content_hash_of_json(
        _dumps([conv.title, conv.model or "", conv.source_url or "", meta_json, hash_input])
    )
    return ConversationRows(
        id=conv_id,
        provider=conv.provider,
        source_id=conv.source_id,
        source_url=conv.source_url,
        title=conv.title or "",
        model=conv.model,
        created_at=to_iso(conv.created_at),
        updated_at=to_iso(conv.updated_at),
        metadata_json=meta_json,
        messages=rows,
        counters=counters,
        content_hash=conv_hash,
        custom_instructions=list(conv.custom_instructions),
    )


def _content_hash_of_json(canonical: str) -> str:
    # content_hash(value) for a value whose canonical JSON is ``canonical``.
    return _blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def _message_text(parts: list[Part]) -> str:
    # message_text, with the commonest case (one text part) answered without the general path.
    if len(parts) == 1:
        part = parts[0]
        if part.get("type") == "text":
            text = part.get("text")
            if isinstance(text, str):
                return text
    return message_text(parts)


def set_token_counts(batch: list[ConversationRows], counts: list[int]) -> None:
    """Store ``counts`` (one per message of ``batch``, in order) as the messages' token
    counts and their conversations' totals."""
    it = iter(counts)
    for rows in batch:
        messages = []
        total = 0
        for m in rows.messages:
            n = next(it)
            total += n
            messages.append(_new_row((*m[:-2], n, m[-1])))  # token_count, text are the last two
        rows.messages = messages
        rows.counters["total_tokens"] = total


def _dedupe(messages: list[ParsedMessage]) -> list[ParsedMessage]:
    """A provider id may repeat in broken exports; the last occurrence wins."""
    seen: dict[str, int] = {}
    for i, m in enumerate(messages):
        seen[m.source_id] = i
    if len(seen) == len(messages):
        return messages
    return [m for i, m in enumerate(messages) if seen[m.source_id] == i]


def as_json(value: Any) -> str:
    return _dumps(value)
