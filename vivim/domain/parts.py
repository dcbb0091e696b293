"""Typed content parts of a message.

A message's content is a list of parts, each a JSON-ready dict with a ``type`` key. Dicts
rather than classes because parts are stored as JSON as they are, and imports handle
hundreds of thousands of them per second. The constructors below are the one place that
decides which keys each type carries; parsers use them instead of writing dicts by hand.
"""

from __future__ import annotations

from typing import Any

Part = dict[str, Any]

PART_TYPES = frozenset(
    {
        "text",
        "code",
        "image",
        "table",
        "latex",
        "mermaid",
        "tool_call",
        "tool_result",
        "thinking",
        "citation",
        "attachment",
        "unknown",
    }
)


def _clean(d: Part) -> Part:
    return {k: v for k, v in d.items() if v is not None}


def text(content: str) -> Part:
    return {"type": "text", "text": content}


def code(content: str, language: str | None = None) -> Part:
    return _clean({"type": "code", "code": content, "language": language or None})


def image(
    ref: str | None,
    *,
    alt: str | None = None,
    mime_type: str | None = None,
    size_bytes: int | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Part:
    """An image by reference (asset pointer, URL or file name); bytes are never inlined."""
    return _clean(
        {
            "type": "image",
            "ref": ref,
            "alt": alt,
            "mime_type": mime_type,
            "size_bytes": size_bytes,
            "width": width,
            "height": height,
        }
    )


def table(headers: list[str], rows: list[list[str]]) -> Part:
    return {"type": "table", "headers": headers, "rows": rows}


def latex(content: str, display: bool = True) -> Part:
    return {"type": "latex", "latex": content, "display": display}


def mermaid(content: str) -> Part:
    return {"type": "mermaid", "mermaid": content}


def tool_call(name: str | None, arguments: Any = None, call_id: str | None = None) -> Part:
    return _clean({"type": "tool_call", "id": call_id, "name": name, "arguments": arguments})


def tool_result(
    content: Any, call_id: str | None = None, is_error: bool = False, name: str | None = None
) -> Part:
    return _clean(
        {"type": "tool_result", "call_id": call_id, "name": name, "content": content, "is_error": is_error}
    )


def thinking(content: str, summary: str | None = None) -> Part:
    return _clean({"type": "thinking", "text": content, "summary": summary})


def citation(
    url: str | None = None, title: str | None = None, text: str | None = None, source: str | None = None
) -> Part:
    return _clean({"type": "citation", "url": url, "title": title, "text": text, "source": source})


def attachment(
    name: str | None,
    extracted_text: str | None = None,
    *,
    mime_type: str | None = None,
    size_bytes: int | None = None,
    ref: str | None = None,
) -> Part:
    return _clean(
        {
            "type": "attachment",
            "name": name,
            "extracted_text": extracted_text,
            "mime_type": mime_type,
            "size_bytes": size_bytes,
            "ref": ref,
        }
    )


def unknown(original_type: str | None, payload: Any) -> Part:
    """A part vivim does not understand yet, kept verbatim so nothing is lost."""
    return {"type": "unknown", "original_type": original_type, "payload": payload}


def plain_text(part: Part) -> str:
    """The human-readable text a part contributes (used for word counts and search)."""
    t = part.get("type")
    if t == "text":
        return part.get("text", "")
    if t == "code":
        return part.get("code", "")
    if t == "thinking":
        return part.get("text", "")
    if t == "latex":
        return part.get("latex", "")
    if t == "mermaid":
        return part.get("mermaid", "")
    if t == "table":
        rows = [part.get("headers") or []] + list(part.get("rows") or [])
        return "\n".join(" | ".join(str(c) for c in r) for r in rows)
    if t == "tool_call":
        args = part.get("arguments")
        return f"{part.get('name') or ''} {args if isinstance(args, str) else ''}".strip()
    if t == "tool_result":
        c = part.get("content")
        return c if isinstance(c, str) else ""
    if t == "citation":
        return " ".join(x for x in (part.get("title"), part.get("text")) if x)
    if t == "attachment":
        return part.get("extracted_text") or ""
    if t == "image":
        return part.get("alt") or ""
    return ""


def message_text(parts: list[Part]) -> str:
    return "\n\n".join(s for s in (plain_text(p) for p in parts) if s)
