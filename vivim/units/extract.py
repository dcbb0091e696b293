"""Split stored messages into Atomic Chat Units (the rules are in docs/UNITS.md).

Input is what the user DB returns (``get_conversation`` / ``get_messages`` dicts); output is
one :class:`UnitDraft` per unit, in reading order. Pure: no I/O, no clock, no randomness, so
re-extracting an unchanged message yields the same units with the same ids.

This runs over every message a user imports, so the hot path avoids per-unit objects other
than the draft itself and uses precompiled patterns only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vivim.domain.canonical import content_hash
from vivim.domain.ids import derived_id
from vivim.units.classify import HEAD_CHARS, category, code_language, is_question, natural_language, words_of

if TYPE_CHECKING:
    from vivim.store.user.conversations import ConversationRows

EXTRACTOR_VERSION = "units-1"
"""Bumped whenever a rule change would split, type or classify a message differently."""

UNIT_TYPES = frozenset(
    {
        "question",
        "answer",
        "statement",
        "code_snippet",
        "formula",
        "table",
        "diagram",
        "image_reference",
        "attachment",
        "tool_use",
        "thought",
        "citation",
        "unknown",
    }
)

MIN_CHARS = 120
"""Prose shorter than this is merged with a neighbour in the same section (when one exists),
so a unit is a thought, not a sentence fragment."""
MAX_CHARS = 1200
"""Prose longer than this is cut at line, then sentence, then word boundaries."""
CODE_MAX_CHARS = 6000
"""Code, tool arguments and diagrams are kept whole up to this size, then cut at lines."""
LEAD_MAX_CHARS = 300
"""An introducing paragraph up to this size moves into the block it introduces."""
TABLE_MAX_CHARS = 1200
"""Tables are cut into row groups of about this size, each with the header repeated."""


@dataclass(slots=True)
class UnitDraft:
    """A unit as extraction decides it; the store adds author, signature and timestamps."""

    id: str
    content: str
    content_hash: str
    type: str
    category: str
    language: str | None
    conversation_id: str | None
    message_id: str | None
    message_index: int | None
    parent_id: str | None
    """The unit this one derives from (remixes); None for units extracted from a message."""
    provider: str | None
    model: str | None
    source_timestamp: str | None
    extractor_version: str
    parser_version: str | None
    role: str | None
    position: int
    """Order within its message, from 0."""
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    quality_overall: float | None = None
    content_richness: float | None = None
    structural_integrity: float | None = None
    uniqueness: float | None = None
    rediscovery_score: float | None = None


# --- patterns ---------------------------------------------------------------------------
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?。！？])[\"'”’)\]*_]*\s+")
_INTRO_PHRASE = re.compile(r"\b(?:below|the following|as follows|here is|here's|here are)\b", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w#&/])#([A-Za-z][\w-]{1,40})\b")
_BACKTICK_RUN = re.compile(r"`+")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode

# Hidden system messages are provider plumbing unless they carry the user's own words.
_INSTRUCTION_CONTENT_TYPES = frozenset({"user_editable_context"})


# --- pieces: a unit before it has an id -------------------------------------------------
class _Piece:
    """Mutable while a message is being split (a lead-in can move into the next block)."""

    __slots__ = ("kind", "content", "language", "meta", "part_types", "intro")

    def __init__(
        self,
        kind: str,
        content: str,
        meta: dict[str, Any],
        part_types: list[str],
        language: str | None = None,
    ) -> None:
        self.kind = kind
        self.content = content
        self.language = language
        self.meta = meta
        self.part_types = part_types
        self.intro: _Piece | None = None


def _heading_titles(stack: list[tuple[int, str]]) -> list[str]:
    return [title for _, title in stack]


def _prose_blocks(text: str) -> list[tuple[str, int]]:
    """Paragraphs and headings of markdown prose, as (text, heading level or 0)."""
    out: list[tuple[str, int]] = []
    for raw in _BLANK_LINES.split(text) if "\n" in text else (text,):
        block = raw.strip()
        if not block:
            continue
        if "#" in block and (block[0] == "#" or "\n#" in block or "\n #" in block):
            para: list[str] = []
            for line in block.split("\n"):
                m = _HEADING.match(line)
                if m:
                    if para:
                        out.append(("\n".join(para).strip(), 0))
                        para = []
                    out.append((line.strip(), len(m.group(1))))
                else:
                    para.append(line)
            if para and "\n".join(para).strip():
                out.append(("\n".join(para).strip(), 0))
        else:
            out.append((block, 0))
    return out


def _continues(previous: str, block: str) -> bool:
    """Whether ``block`` belongs with the paragraph before it: a list stays with its
    introduction ("...the following changes:") and with its other items."""
    if not _LIST_ITEM.match(block):
        return False
    return bool(_LIST_ITEM.match(previous)) or previous.rstrip(" *_").endswith((":", "："))


def _split_long(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters at line, then sentence, then
    word boundaries, balancing piece sizes so the last one is not a scrap."""
    if len(text) <= limit:
        return [text]
    n = math.ceil(len(text) / limit)
    target = min(limit, math.ceil(len(text) / n) + 80)
    if "\n" in text:
        segments, joiner = text.split("\n"), "\n"
    else:
        segments, joiner = _SENTENCE_BREAK.split(text), " "
    out: list[str] = []
    buf: list[str] = []
    size = 0
    for seg in segments:
        if len(seg) > limit:
            if buf:
                out.append(joiner.join(buf))
                buf, size = [], 0
            out.extend(_split_long(seg, limit) if joiner == "\n" else _hard_split(seg, limit))
            continue
        if buf and size + len(seg) + 1 > target:
            out.append(joiner.join(buf))
            buf, size = [], 0
        buf.append(seg)
        size += len(seg) + 1
    if buf:
        out.append(joiner.join(buf))
    return [s.strip() for s in out if s.strip()]


def _hard_split(text: str, limit: int) -> list[str]:
    out = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        out.append(text[:cut])
        text = text[cut:].lstrip()
    if text:
        out.append(text)
    return out


def _prose_pieces(text: str, kind: str, stack: list[tuple[int, str]], part_type: str) -> list[_Piece]:
    """Units of one stretch of prose: paragraphs and sections, tiny fragments merged with a
    neighbour, long ones cut. ``stack`` is the message's heading path, updated in place."""
    groups: list[tuple[list[str], int, list[str], bool]] = []
    cur: list[str] | None = None
    cur_len = 0
    cur_heads: list[str] = []
    only_headings = False

    def _joins_previous(blocks: list[str], length: int, heads: list[str]) -> bool:
        # A tiny fragment usually finishes the paragraph before it ("In short: yes."); one
        # that announces what follows (ends with ':') or opens a section goes forward.
        return (
            bool(groups)
            and not blocks[-1].rstrip(" *_").endswith((":", "："))
            and groups[-1][2] == heads
            and not groups[-1][3]
            and groups[-1][1] + length + 2 <= MAX_CHARS
        )

    def close() -> None:
        if cur is None:
            return
        if (
            cur_len < MIN_CHARS
            and not only_headings
            and groups
            and groups[-1][2] == cur_heads
            and not groups[-1][3]
            and groups[-1][1] + cur_len + 2 <= MAX_CHARS
        ):
            prev = groups[-1]
            groups[-1] = (prev[0] + cur, prev[1] + cur_len + 2, prev[2], False)
        else:
            groups.append((cur, cur_len, cur_heads, only_headings))

    for block, level in _prose_blocks(text):
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, block.lstrip("# \t").rstrip("# \t")))
            if cur is not None and only_headings:
                cur.append(block)
                cur_len += len(block) + 2
                cur_heads = _heading_titles(stack)
                continue
            close()
            cur, cur_len, cur_heads, only_headings = [block], len(block), _heading_titles(stack), True
            continue
        if cur is None:
            cur, cur_len, cur_heads, only_headings = [block], len(block), _heading_titles(stack), False
        elif (
            only_headings
            or (cur_len < MIN_CHARS and not _joins_previous(cur, cur_len, cur_heads))
            or (cur_len + len(block) + 2 <= MAX_CHARS and _continues(cur[-1], block))
        ):
            cur.append(block)
            cur_len += len(block) + 2
            only_headings = False
        else:
            close()
            cur, cur_len, cur_heads, only_headings = [block], len(block), _heading_titles(stack), False
    close()

    out: list[_Piece] = []
    for blocks, _length, heads, _only in groups:
        content = "\n\n".join(blocks)
        chunks = _split_long(content)
        for i, chunk in enumerate(chunks):
            meta: dict[str, Any] = {}
            if heads:
                meta["headings"] = heads
            if len(chunks) > 1:
                meta["chunk"] = [i, len(chunks)]
            out.append(_Piece(kind, chunk, meta, [part_type]))
    return out


def _last_sentence(text: str) -> str:
    line = text.rsplit("\n", 1)[-1].strip()
    return _SENTENCE_BREAK.split(line)[-1] if len(line) > 40 else line


def _only_headings(text: str) -> bool:
    return text.startswith("#") and all(_HEADING.match(line) for line in text.split("\n") if line.strip())


def _introduces(text: str) -> bool:
    """Whether prose announces the block after it: it ends with a colon, or its last sentence
    points ahead ("below", "the following", "here is")."""
    tail = text.rstrip(" \t\n*_`)")
    if tail.endswith((":", "：")):
        return True
    return bool(_INTRO_PHRASE.search(_last_sentence(text)))


def _fence(code: str, language: str | None) -> str:
    longest = max((len(m) for m in _BACKTICK_RUN.findall(code)), default=0) if "`" in code else 0
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language or ''}\n{code.rstrip()}\n{ticks}"


def _cell(value: Any) -> str:
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    return s.replace("|", "\\|").replace("\n", " ").strip()


def _table_chunks(headers: list[Any], rows: list[Any]) -> list[str]:
    head_cells = [_cell(h) for h in headers] if headers else []
    width = max([len(head_cells)] + [len(r) for r in rows if isinstance(r, list)])
    if not head_cells and width:
        head_cells = [""] * width
    head = "| " + " | ".join(head_cells) + " |\n|" + "---|" * max(1, len(head_cells))
    lines = [
        "| " + " | ".join(_cell(c) for c in r) + " |" if isinstance(r, list) else "| " + _cell(r) + " |"
        for r in rows
    ]
    chunks: list[str] = []
    buf: list[str] = []
    size = len(head)
    for line in lines:
        if buf and size + len(line) + 1 > TABLE_MAX_CHARS:
            chunks.append(head + "\n" + "\n".join(buf))
            buf, size = [], len(head)
        buf.append(line)
        size += len(line) + 1
    chunks.append(head + ("\n" + "\n".join(buf) if buf else ""))
    return chunks


def _strings(value: Any, out: list[str], depth: int = 0) -> None:
    if depth > 8 or len(out) > 200:
        return
    if isinstance(value, str):
        if value.strip():
            out.append(value.strip())
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "type":
                _strings(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out, depth + 1)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return _dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _message_pieces(parts: list[Any]) -> list[_Piece]:
    """Pieces of one message's parts, in order. Consecutive text parts are read as one text
    (parsers split markdown around code, so a paragraph can span parts)."""
    pieces: list[_Piece] = []
    stack: list[tuple[int, str]] = []
    texts: list[str] = []
    after_text = False  # whether the last pieces came from prose right before this part

    def flush_text() -> None:
        nonlocal texts
        if texts:
            joined = "\n\n".join(texts)
            if joined.strip():
                pieces.extend(_prose_pieces(joined, "prose", stack, "text"))
            texts = []

    for part in parts:
        if not isinstance(part, dict):
            continue
        t = part.get("type")
        if t == "text":
            value = part.get("text")
            if isinstance(value, str) and value.strip():
                texts.append(value)
            continue
        had_text = bool(texts)
        flush_text()
        after_text = had_text and bool(pieces) and pieces[-1].kind == "prose"
        heads = _heading_titles(stack)
        if t in ("code", "latex", "mermaid", "table"):
            _block_pieces(part, t, pieces, heads, after_text)
        elif t == "thinking":
            value = part.get("text")
            if isinstance(value, str) and value.strip():
                new = _prose_pieces(value, "thought", [], "thinking")
                summary = part.get("summary")
                if isinstance(summary, str) and summary:
                    for p in new:
                        p.meta["summary"] = summary
                pieces.extend(new)
        elif t == "image":
            pieces.append(_image_piece(part, heads))
        elif t == "attachment":
            pieces.extend(_attachment_pieces(part))
        elif t == "tool_call":
            pieces.extend(_tool_call_pieces(part))
        elif t == "tool_result":
            pieces.extend(_tool_result_pieces(part))
        elif t == "citation":
            _citation(part, pieces)
        else:
            _unknown_piece(part, pieces)
    flush_text()
    return pieces


def _block_pieces(
    part: dict[str, Any], t: str, pieces: list[_Piece], heads: list[str], after_text: bool
) -> None:
    if t == "code":
        raw = part.get("code")
        code = raw if isinstance(raw, str) else _as_text(raw)
        if not code.strip():
            return
        declared = part.get("language") or part.get("artifact_type")
        language = code_language(declared if isinstance(declared, str) else None, code)
        kind = "diagram" if language == "mermaid" else "code"
        bodies = [_fence(c, language) for c in _split_long(code, CODE_MAX_CHARS)]
        extra = {k: v for k, v in part.items() if k not in ("type", "code", "language") and v is not None}
    elif t == "latex":
        raw = part.get("latex")
        if not isinstance(raw, str) or not raw.strip():
            return
        display = part.get("display", True)
        bodies = [f"$$\n{raw.strip()}\n$$" if display else f"${raw.strip()}$"]
        kind, language, extra = "formula", "latex", {}
    elif t == "mermaid":
        raw = part.get("mermaid")
        if not isinstance(raw, str) or not raw.strip():
            return
        bodies = [_fence(c, "mermaid") for c in _split_long(raw, CODE_MAX_CHARS)]
        kind, language, extra = "diagram", "mermaid", {}
    else:
        headers = part.get("headers") if isinstance(part.get("headers"), list) else []
        rows = part.get("rows") if isinstance(part.get("rows"), list) else []
        if not headers and not rows:
            return
        bodies = _table_chunks(headers, rows)
        kind, language, extra = "table", None, {}

    lead = ""
    intro: _Piece | None = None
    part_types = [t]
    if after_text and pieces and pieces[-1].kind == "prose":
        prev = pieces[-1]
        if _only_headings(prev.content) or (
            _introduces(prev.content) and len(prev.content) <= LEAD_MAX_CHARS
        ):
            # The whole paragraph is the block's introduction (or its section title): one unit.
            pieces.pop()
            lead = prev.content
            part_types = [*prev.part_types, t]
        elif _introduces(prev.content):
            # A longer paragraph keeps its own unit; its announcing sentence leads the block.
            lead = _last_sentence(prev.content)
            if len(lead) > LEAD_MAX_CHARS:
                lead = ""
            intro = prev
    for i, body in enumerate(bodies):
        meta: dict[str, Any] = {}
        if heads:
            meta["headings"] = heads
        if len(bodies) > 1:
            meta["chunk"] = [i, len(bodies)]
        if extra:
            meta["artifact"] = extra
        content = body
        if lead and i == 0:
            content = f"{lead}\n\n{body}"
            meta["lead_chars"] = len(lead)
        piece = _Piece(kind, content, meta, part_types if i == 0 else [t], language)
        if i == 0 and intro is not None:
            piece.intro = intro
        pieces.append(piece)


def _image_piece(part: dict[str, Any], heads: list[str]) -> _Piece:
    alt, ref = part.get("alt"), part.get("ref")
    if isinstance(alt, str) and alt.strip():
        content = alt.strip()
    elif isinstance(ref, str) and ref.strip():
        content = ref.strip()
    else:
        desc = [str(part[k]) for k in ("mime_type",) if part.get(k)]
        if part.get("width") and part.get("height"):
            desc.append(f"{part['width']}x{part['height']}")
        if part.get("size_bytes"):
            desc.append(f"{part['size_bytes']} bytes")
        content = "image" + (f" ({', '.join(desc)})" if desc else "")
    meta = {
        k: part[k] for k in ("ref", "mime_type", "width", "height", "size_bytes") if part.get(k) is not None
    }
    if not (isinstance(alt, str) and alt.strip()):
        meta["label_only"] = True
    if heads:
        meta["headings"] = heads
    return _Piece("image", content, meta, ["image"])


def _attachment_pieces(part: dict[str, Any]) -> list[_Piece]:
    name = part.get("name") if isinstance(part.get("name"), str) else None
    meta = {k: part[k] for k in ("name", "mime_type", "size_bytes", "ref") if part.get(k) is not None}
    text = part.get("extracted_text")
    if isinstance(text, str) and text.strip():
        out = _prose_pieces(text, "attachment", [], "attachment")
        for p in out:
            p.meta.update(meta)
        return out
    label = name or (part.get("ref") if isinstance(part.get("ref"), str) else None)
    if not label or not label.strip():
        return []  # an attachment with neither name, reference nor text says nothing
    return [_Piece("attachment", label.strip(), {**meta, "label_only": True}, ["attachment"])]


def _tool_call_pieces(part: dict[str, Any]) -> list[_Piece]:
    name = part.get("name") if isinstance(part.get("name"), str) else None
    args = _as_text(part.get("arguments")).strip()
    meta: dict[str, Any] = {"tool_kind": "call"}
    if name:
        meta["tool"] = name
    if part.get("id"):
        meta["call_id"] = part["id"]
    if not name and not args:
        return []
    chunks = _split_long(args, CODE_MAX_CHARS) if args else [""]
    out = []
    for i, chunk in enumerate(chunks):
        m = dict(meta)
        if len(chunks) > 1:
            m["chunk"] = [i, len(chunks)]
        content = f"{name or 'tool'}({chunk})" if i == 0 else chunk
        out.append(_Piece("tool", content, m, ["tool_call"]))
    return out


def _tool_result_pieces(part: dict[str, Any]) -> list[_Piece]:
    text = _as_text(part.get("content")).strip()
    if not text:
        return []
    meta: dict[str, Any] = {"tool_kind": "result"}
    if part.get("name"):
        meta["tool"] = part["name"]
    if part.get("call_id"):
        meta["call_id"] = part["call_id"]
    if part.get("is_error"):
        meta["is_error"] = True
    chunks = _split_long(text)
    out = []
    for i, chunk in enumerate(chunks):
        m = dict(meta)
        if len(chunks) > 1:
            m["chunk"] = [i, len(chunks)]
        out.append(_Piece("tool_result", chunk, m, ["tool_result"]))
    return out


def _citation(part: dict[str, Any], pieces: list[_Piece]) -> None:
    cite = {k: part[k] for k in ("url", "title", "source") if isinstance(part.get(k), str) and part[k]}
    if pieces:
        pieces[-1].meta.setdefault("citations", []).append(cite)
        return
    text = " — ".join(
        x for x in (part.get("title"), part.get("text"), part.get("url")) if isinstance(x, str) and x
    )
    if text.strip():
        pieces.append(_Piece("citation", text.strip(), cite, ["citation"]))


def _unknown_piece(part: dict[str, Any], pieces: list[_Piece]) -> None:
    found: list[str] = []
    _strings(part.get("payload", {k: v for k, v in part.items() if k != "type"}), found)
    text = "\n".join(found) if found else ""
    if not text:
        payload = part.get("payload")
        text = _as_text(payload) if payload not in (None, {}, []) else ""
    text = text.strip()
    if not text:
        return
    original = part.get("original_type") or part.get("type")
    pieces.append(
        _Piece(
            "unknown",
            text[:MAX_CHARS],
            {"original_type": original} if original else {},
            [str(part.get("type"))],
        )
    )


# --- conversation level ------------------------------------------------------------------
_KIND_TYPES = {
    "thought": "thought",
    "code": "code_snippet",
    "formula": "formula",
    "diagram": "diagram",
    "table": "table",
    "image": "image_reference",
    "attachment": "attachment",
    "tool": "tool_use",
    "tool_result": "tool_use",
    "citation": "citation",
    "unknown": "unknown",
}


_NO_NATURAL_LANGUAGE = frozenset({"tool", "code", "diagram", "formula"})


def _keeps_units(message: dict[str, Any]) -> bool:
    """Hidden system messages are provider plumbing; the ones holding the user's own words
    (ChatGPT's custom instructions) are kept."""
    if message.get("role") != "system" or not message.get("hidden"):
        return True
    meta = message.get("metadata") or {}
    return meta.get("content_type") in _INSTRUCTION_CONTENT_TYPES or meta.get("original_role") == "user"


def extract_conversation(
    conversation: dict[str, Any], messages: list[dict[str, Any]], *, parser_version: str | None
) -> list[UnitDraft]:
    """Units of every message of ``conversation``, in reading order (message index, then
    position). Every message with content yields at least one unit, except hidden system
    messages that hold no user instructions. Quality fields are left for
    :func:`vivim.units.quality.score_units`."""
    conv_id = conversation.get("id")
    provider = conversation.get("provider")
    conv_model = conversation.get("model")
    conv_time = conversation.get("created_at")
    ordered = messages
    if any(
        (messages[i].get("message_index") or 0) > (messages[i + 1].get("message_index") or 0)
        for i in range(len(messages) - 1)
    ):
        ordered = sorted(messages, key=lambda m: m.get("message_index") or 0)
    by_id = {m.get("id"): m for m in ordered}
    reply_to: dict[Any, Any] = {}  # non-user message id -> (user message id, branch root id)
    follows: dict[Any, Any] = {}  # message id -> nearest earlier message (tree order) with units
    with_units: set[Any] = set()
    asked: set[Any] = set()
    last_user: Any = None
    last_branch: Any = None
    last_with_units: Any = None
    out: list[UnitDraft] = []

    for m in ordered:
        mid = m.get("id")
        role = m.get("role")
        pid = m.get("parent_id")
        parent = by_id.get(pid) if pid is not None else None
        # The message this one answers, and which reply branch (regeneration) it belongs to.
        if role == "user":
            last_user, last_branch = mid, None
        elif parent is not None:
            if parent.get("role") == "user":
                reply_to[mid] = (pid, mid)
            elif pid in reply_to:
                reply_to[mid] = reply_to[pid]
        else:
            if last_branch is None:
                last_branch = mid
            if last_user is not None:
                reply_to[mid] = (last_user, last_branch)
        if parent is not None:
            follows[mid] = pid if pid in with_units else follows.get(pid)
        else:
            follows[mid] = last_with_units

        if not _keeps_units(m):
            continue
        parts = m.get("parts")
        pieces = _message_pieces(parts if isinstance(parts, list) else [])
        if not pieces:
            continue
        with_units.add(mid)
        last_with_units = mid

        model = m.get("model") or (conv_model if role in ("assistant", "tool") else None)
        timestamp = m.get("created_at") or conv_time
        index = m.get("message_index")
        reply = reply_to.get(mid)
        base: dict[str, Any] = {"on_current_path": bool(m.get("on_current_path", True))}
        if m.get("author"):
            base["author"] = m["author"]
        if m.get("hidden"):
            base["hidden"] = True
        if reply is not None and role != "user":
            base["reply_to"] = reply[0]
            base["reply_branch"] = reply[1]
        answers = reply is not None and reply[0] in asked and role == "assistant"
        instruction = role == "system"
        positions: dict[int, int] = {}
        for position, piece in enumerate(pieces):
            positions[id(piece)] = position
            content = piece.content
            if piece.kind == "prose":
                if role == "user":
                    utype = "question" if is_question(content) else "statement"
                elif role == "tool":
                    utype = "tool_use"
                else:
                    utype = "answer" if answers else "statement"
            else:
                utype = _KIND_TYPES[piece.kind]
            words = words_of(content[:HEAD_CHARS])
            present = set(words)
            cat = "instruction" if instruction else category(content, utype, words, present)
            if piece.language is not None:
                language: str | None = piece.language
            elif piece.kind in _NO_NATURAL_LANGUAGE:
                language = None
            else:
                language = natural_language(content, present)
            meta = {**base, "part_types": piece.part_types, **piece.meta}
            if position == 0 and follows.get(mid) is not None:
                meta["follows"] = follows[mid]
            if piece.intro is not None and id(piece.intro) in positions:
                meta["intro_position"] = positions[id(piece.intro)]
            h = content_hash(content)
            out.append(
                UnitDraft(
                    id=derived_id("unit", mid or "", str(position), h),
                    content=content,
                    content_hash=h,
                    type=utype,
                    category=cat,
                    language=language,
                    conversation_id=conv_id,
                    message_id=mid,
                    message_index=index,
                    parent_id=None,
                    provider=provider,
                    model=model,
                    source_timestamp=timestamp,
                    extractor_version=EXTRACTOR_VERSION,
                    parser_version=parser_version,
                    role=role,
                    position=position,
                    metadata=meta,
                    tags=_tags(utype, content, piece),
                )
            )
            if utype == "question":
                asked.add(mid)
    return out


def _tags(utype: str, content: str, piece: _Piece) -> list[str]:
    if utype in ("code_snippet", "diagram") and piece.language:
        return [piece.language]
    if utype == "tool_use":
        tool = piece.meta.get("tool")
        return [tool] if isinstance(tool, str) else []
    if utype == "attachment":
        name = piece.meta.get("name")
        if isinstance(name, str) and "." in name:
            ext = name.rsplit(".", 1)[1].lower()
            return [ext] if ext.isalnum() and len(ext) <= 8 else []
        return []
    if "#" in content:
        found = _HASHTAG.findall(content)
        if found:
            return sorted({t.lower() for t in found})
    return []


def derive_unit(
    original: UnitDraft,
    content: str,
    *,
    parser_version: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> UnitDraft:
    """A remix of ``original``: new content whose lineage (``parent_id``) is the original.

    It keeps the original's conversation, message and provenance, so it is found beside its
    source; its id is derived from the original's id and the new content, so making the
    same remix twice lands on the same unit."""
    h = content_hash(content)
    words = words_of(content[:HEAD_CHARS])
    utype = original.type if original.type in UNIT_TYPES else "statement"
    meta = {"derived": True, **(metadata or {})}
    return UnitDraft(
        id=derived_id("unit-derived", original.id, h),
        content=content,
        content_hash=h,
        type=utype,
        category=original.category if original.category == "instruction" else category(content, utype, words),
        language=original.language
        if utype in ("code_snippet", "formula", "diagram")
        else natural_language(content, words),
        conversation_id=original.conversation_id,
        message_id=original.message_id,
        message_index=original.message_index,
        parent_id=original.id,
        provider=original.provider,
        model=original.model,
        source_timestamp=original.source_timestamp,
        extractor_version=EXTRACTOR_VERSION,
        parser_version=parser_version if parser_version is not None else original.parser_version,
        role=original.role,
        position=original.position,
        metadata=meta,
        tags=list(original.tags),
    )


def inputs_from_rows(rows: ConversationRows) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The conversation and message dicts that ``get_conversation`` / ``get_messages``
    would return for freshly normalised rows, so units can be extracted at import time
    without reading the rows back."""
    conversation = {
        "id": rows.id,
        "provider": rows.provider,
        "source_id": rows.source_id,
        "source_url": rows.source_url,
        "title": rows.title,
        "model": rows.model,
        "created_at": rows.created_at,
        "updated_at": rows.updated_at,
    }
    messages = [
        {
            "id": m.id,
            "conversation_id": rows.id,
            "source_id": m.source_id,
            "parent_id": m.parent_id,
            "role": m.role,
            "author": m.author,
            "parts": json.loads(m.parts_json),
            "content_hash": m.content_hash,
            "version": 1,
            "created_at": m.created_at,
            "message_index": m.message_index,
            "status": m.status,
            "finish_reason": m.finish_reason,
            "token_count": m.token_count,
            "model": m.model,
            "hidden": bool(m.hidden),
            "on_current_path": bool(m.on_current_path),
            "metadata": json.loads(m.metadata_json) if m.metadata_json else {},
        }
        for m in rows.messages
    ]
    return conversation, messages
