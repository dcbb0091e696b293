"""Which parser reads an input: by content, or by the user's ``--provider`` hint."""

from __future__ import annotations

import importlib
from functools import lru_cache

from vivim.capture.base import Parser, Source
from vivim.domain.errors import ParseError

# Most specific first: the generic format and the share pages are recognised by markers
# that no other format carries.
_PARSER_MODULES = (
    "vivim.capture.generic",
    "vivim.capture.chatgpt",
    "vivim.capture.claude",
    "vivim.capture.openwebui",
    "vivim.capture.aistudio",
    "vivim.capture.gemini_activity",
    "vivim.capture.share_pages",
)

SHARE_PAGE_PROVIDERS = ("chatgpt", "claude", "deepseek", "grok", "kimi", "zai", "lmarena")


@lru_cache(maxsize=1)
def parsers() -> tuple[Parser, ...]:
    return tuple(importlib.import_module(name).PARSER for name in _PARSER_MODULES)


def format_names() -> list[str]:
    return [p.name for p in parsers()]


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:512].lower()
    return start.startswith(b"<!doctype html") or start.startswith(b"<html") or b"<html" in start


def detect(source: Source, hint: str | None = None) -> Parser:
    """The parser for ``source``; raises :class:`ParseError` with a clear reason."""
    head = source.head()
    if not head.strip():
        raise ParseError(f"{source.name}: the file is empty")
    if hint:
        by_name = {p.name: p for p in parsers()}
        # "--provider chatgpt" on a saved page means the ChatGPT share page, not the export.
        if hint in SHARE_PAGE_PROVIDERS and _looks_like_html(head):
            return by_name["share-page"]
        if hint in by_name:
            return by_name[hint]
        if hint not in SHARE_PAGE_PROVIDERS:
            raise ParseError(
                f"unknown provider/format {hint!r}; known: {', '.join(format_names() + list(SHARE_PAGE_PROVIDERS))}"
            )
    for parser in parsers():
        if parser.sniff(head, source.name):
            return parser
    if _looks_like_html(head):
        raise ParseError(
            f"{source.name}: an HTML page, but not a saved share page of a supported provider "
            f"({', '.join(SHARE_PAGE_PROVIDERS)})"
        )
    raise ParseError(f"{source.name}: unrecognised format; supported: {', '.join(format_names())}")
