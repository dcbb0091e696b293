"""Parsed conversation -> the rows the user DB stores: stable ids, hashes, order, counters.

Everything here is deterministic: the same parsed input always yields the same ids and
hashes, which is what makes re-imports idempotent.
"""

from __future__ import annotations

import json
from typing import Any

from vivim.capture.tokens import count_tokens_many
from vivim.domain.canonical import content_hash
from vivim.domain.conversation import ParsedConversation, ParsedMessage
from vivim.domain.ids import derived_id
from vivim.domain.parts import message_text
from vivim.domain.stats import count_message, empty_counters
from vivim.domain.times import to_iso
from vivim.store.user.conversations import ConversationRows, MessageRow

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def conversation_id(provider: str, source_id: str) -> str:
    return derived_id("conversation", provider, source_id)


def message_id(conv_id: str, source_id: str) -> str:
    return derived_id("message", conv_id, source_id)


def ordered(messages: list[ParsedMessage]) -> list[ParsedMessage]:
    """Parents before children, otherwise in the parser's order (which is chronological
    for every format we read). Messages whose parent is missing are treated as roots."""
    ids = {m.source_id for m in messages}
    if all(m.parent_source_id is None or m.parent_source_id in ids for m in messages):
        seen: set[str] = set()
        if all(_mark(m, seen) for m in messages):
            return messages
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


def _mark(m: ParsedMessage, seen: set[str]) -> bool:
    ok = m.parent_source_id is None or m.parent_source_id in seen
    seen.add(m.source_id)
    return ok


def normalize(conv: ParsedConversation, *, with_tokens: bool = True) -> ConversationRows:
    """The rows for ``conv``. With ``with_tokens=False`` token counts are left at 0 for
    :func:`add_token_counts` to fill in later (the importer does that on another thread,
    because tokenising releases the GIL)."""
    conv_id = conversation_id(conv.provider, conv.source_id)
    msgs = ordered(_dedupe(conv.messages))
    texts = [message_text(m.parts) for m in msgs]
    tokens = count_tokens_many(texts) if with_tokens else [0] * len(texts)
    counters = empty_counters()
    rows: list[MessageRow] = []
    hash_input: list[list[str]] = []
    for index, (m, text, n_tokens) in enumerate(zip(msgs, texts, tokens, strict=True)):
        parts_json = _dumps(m.parts)
        h = content_hash(f"{m.role}\x1f{m.author or ''}\x1f{parts_json}")
        rows.append(
            MessageRow(
                id=message_id(conv_id, m.source_id),
                source_id=m.source_id,
                parent_id=message_id(conv_id, m.parent_source_id) if m.parent_source_id else None,
                role=m.role,
                author=m.author,
                parts_json=parts_json,
                content_hash=h,
                created_at=to_iso(m.created_at),
                message_index=index,
                status=m.status,
                finish_reason=m.finish_reason,
                token_count=n_tokens,
                model=m.model,
                hidden=int(m.hidden),
                on_current_path=int(m.on_current_path),
                metadata_json=_dumps(m.metadata) if m.metadata else "{}",
                text=text,
            )
        )
        hash_input.append([m.source_id, h, m.parent_source_id or "", str(int(m.on_current_path))])
        count_message(counters, role=m.role, text=text, tokens=n_tokens, parts=m.parts)
    # Existing rows are matched by the provider's ids; parents are only kept if present.
    known = {r.id for r in rows}
    for r in rows:
        if r.parent_id is not None and r.parent_id not in known:
            r.parent_id = None
    metadata = dict(conv.metadata)
    meta_json = _dumps(metadata) if metadata else "{}"
    conv_hash = content_hash([conv.title, conv.model or "", conv.source_url or "", meta_json, hash_input])
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


def add_token_counts(batch: list[ConversationRows]) -> None:
    """Fill in cl100k token counts of every message in ``batch`` (one tokenizer pass)."""
    texts = [m.text for rows in batch for m in rows.messages]
    counts = iter(count_tokens_many(texts))
    for rows in batch:
        total = 0
        for m in rows.messages:
            m.token_count = next(counts)
            total += m.token_count
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
