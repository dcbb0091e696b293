"""Turn an HTML fragment (an answer as a provider stored it) into typed message parts.

Rules, in document order:

- prose blocks (``p``, ``div``, headings, ``blockquote``, list items, ...) become ``text``;
  consecutive prose blocks merge into one ``text`` part, separated by a blank line (list
  items by a single newline, prefixed ``- `` or ``1. ``, indented two spaces per level);
- ``<pre>`` becomes ``code`` (language from a ``language-x``/``lang-x`` class or a
  ``data-language`` attribute on the ``pre`` or its ``code``; ``mermaid`` becomes a
  ``mermaid`` part);
- ``<table>`` becomes ``table`` (headers from ``thead`` or a first row of ``th`` cells);
- ``<img>`` becomes an ``image`` reference (``data:`` URIs keep only their MIME type and
  size: bytes are never inlined);
- ``<math>`` with a TeX annotation becomes ``latex``;
- links stay in the text as ``[text](url)`` (just the URL when the text is the URL);
  inline ``<code>`` keeps backticks; ``<br>`` is a newline; other inline markup is dropped;
- ``script``, ``style``, ``noscript``, ``template``, comments and ``head`` are dropped.

Whitespace in prose is collapsed as a browser would; inside ``<pre>`` it is kept verbatim.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from vivim.domain import parts as P
from vivim.domain.parts import Part

_DROP = frozenset({"script", "style", "noscript", "template", "head", "title", "meta", "link"})
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "aside", "header", "footer", "main", "nav",
        "blockquote", "figure", "figcaption", "address", "details", "summary", "dl", "dt",
        "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "center", "form", "fieldset",
        "caption", "body", "html",
    }
)  # fmt: skip
_LISTS = frozenset({"ul", "ol"})
_CELL_LIKE = frozenset({"td", "th", "tr", "table", "li", "ul", "ol", "pre"})
_LANGUAGE_CLASS = re.compile(r"(?:^|\s)(?:language|lang)-([\w#+.\-]+)")
_SPACES = re.compile(r"[ \t\r\n\f\v\u200b]+")
_RUNS_OF_SPACES = re.compile(r" {2,}")
_DATA_URI = re.compile(r"^data:([\w.+\-]+/[\w.+\-]+)?(;[^,]*)?,(.*)$", re.DOTALL)


def html_to_parts(html: str) -> list[Part]:
    """Typed parts of an HTML fragment, in document order; ``[]`` for empty markup."""
    if not html or html.isspace():
        return []
    body = LexborHTMLParser(html).body
    if body is None:
        return []
    builder = _Builder()
    builder.walk_children(body, list_depth=0)
    builder.flush_text()
    return builder.parts


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment (all parts' text, blank-line separated)."""
    return P.message_text(html_to_parts(html))


@dataclass
class _Paragraph:
    text: str
    list_item: bool


@dataclass
class _Builder:
    parts: list[Part] = field(default_factory=list)
    paragraphs: list[_Paragraph] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    item_prefix: str | None = None
    """A list item's indentation and marker, waiting for the item's first text."""

    # --- text accumulation -------------------------------------------------------------

    def flush_inline(self) -> None:
        text = _tidy("".join(self.inline))
        self.inline.clear()
        if not text:
            # An item whose text sits in a nested <p> keeps its marker for that text.
            return
        if self.item_prefix is not None:
            self.paragraphs.append(_Paragraph(self.item_prefix + text, list_item=True))
            self.item_prefix = None
        else:
            self.paragraphs.append(_Paragraph(text, list_item=False))

    def flush_text(self) -> None:
        self.flush_inline()
        if not self.paragraphs:
            return
        chunks: list[str] = []
        previous: _Paragraph | None = None
        for para in self.paragraphs:
            if previous is not None:
                # List items of one list read as one block; everything else is a paragraph.
                chunks.append("\n" if para.list_item and previous.list_item else "\n\n")
            chunks.append(para.text)
            previous = para
        self.parts.append(P.text("".join(chunks)))
        self.paragraphs.clear()

    def add_part(self, part: Part) -> None:
        self.flush_text()
        self.parts.append(part)

    # --- the walk ----------------------------------------------------------------------

    def walk_children(self, node: LexborNode, list_depth: int) -> None:
        child = node.child
        while child is not None:
            self.walk(child, list_depth)
            child = child.next

    def walk(self, node: LexborNode, list_depth: int) -> None:
        tag = node.tag
        if tag == "-text":
            value = node.text(deep=False)
            if value:
                self.inline.append(_SPACES.sub(" ", value))
            return
        if tag is None or tag.startswith("-") or tag in _DROP:
            return  # comments, doctype, scripts and styles carry no content
        if tag == "br":
            self.inline.append("\n")
        elif tag == "pre":
            self.add_part(_pre_part(node))
        elif tag == "table":
            self.add_part(_table_part(node))
        elif tag == "img":
            self.add_part(_image_part(node))
        elif tag == "math":
            self._math(node, list_depth)
        elif tag == "a":
            self._link(node, list_depth)
        elif tag == "code":
            code_text = _inline_text(node)
            if code_text:
                self.inline.append(f"`{code_text}`")
        elif tag in _LISTS:
            self._list(node, ordered=tag == "ol", list_depth=list_depth)
        elif tag == "li":
            # A stray <li> outside a list still reads as an item.
            self._item(node, "- ", list_depth)
        elif tag in _BLOCKS:
            self.flush_inline()
            self.walk_children(node, list_depth)
            self.flush_inline()
        else:
            self.walk_children(node, list_depth)

    def _list(self, node: LexborNode, *, ordered: bool, list_depth: int) -> None:
        self.flush_inline()
        number = _start_number(node) if ordered else 1
        child = node.child
        while child is not None:
            if child.tag == "li":
                marker = f"{number}. " if ordered else "- "
                self._item(child, marker, list_depth)
                number += 1
            else:
                self.walk(child, list_depth + 1)
            child = child.next
        self.flush_inline()

    def _item(self, node: LexborNode, marker: str, list_depth: int) -> None:
        self.flush_inline()
        self.item_prefix = "  " * list_depth + marker
        self.walk_children(node, list_depth + 1)
        self.flush_inline()
        self.item_prefix = None

    def _link(self, node: LexborNode, list_depth: int) -> None:
        href = (node.attributes.get("href") or "").strip()
        label = _inline_text(node)
        if not label or not href or href.lower().startswith(("javascript:", "#")):
            # An image link, an anchor or a script link: keep what it contains, not the target.
            self.walk_children(node, list_depth)
            return
        self.inline.append(href if label == href else f"[{label}]({href})")

    def _math(self, node: LexborNode, list_depth: int) -> None:
        tex = node.css_first('annotation[encoding="application/x-tex"]')
        if tex is None:
            self.walk_children(node, list_depth)
            return
        display = (node.attributes.get("display") or "").lower() == "block"
        self.add_part(P.latex(tex.text(deep=True).strip(), display=display))


# --- the structured parts --------------------------------------------------------------------


def _pre_part(node: LexborNode) -> Part:
    code_node = node.css_first("code")
    language = _language(code_node) if code_node is not None else None
    language = language or _language(node)
    body = _verbatim_text(node).strip("\n")
    if language and language.lower() == "mermaid":
        return P.mermaid(body)
    return P.code(body, language)


def _language(node: LexborNode) -> str | None:
    attrs = node.attributes
    declared = attrs.get("data-language") or attrs.get("data-lang")
    if declared:
        return declared.strip() or None
    match = _LANGUAGE_CLASS.search(attrs.get("class") or "")
    return match.group(1) if match else None


def _table_part(node: LexborNode) -> Part:
    rows: list[list[str]] = []
    header_row: list[str] | None = None
    for tr in node.css("tr"):
        # Rows of a table nested inside a cell belong to that inner table, not this one.
        if _closest_table(tr) != node.mem_id:
            continue
        cells = [c for c in _children(tr) if c.tag in ("th", "td")]
        values = [_inline_text(c) for c in cells]
        in_head = tr.parent is not None and tr.parent.tag == "thead"
        all_th = bool(cells) and all(c.tag == "th" for c in cells)
        if header_row is None and not rows and (in_head or all_th):
            header_row = values
        else:
            rows.append(values)
    return P.table(header_row or [], rows)


def _closest_table(node: LexborNode) -> int | None:
    """Identity (``mem_id``) of the table holding ``node``: node wrappers are not unique."""
    parent = node.parent
    while parent is not None and parent.tag != "table":
        parent = parent.parent
    return parent.mem_id if parent is not None else None


def _image_part(node: LexborNode) -> Part:
    attrs = node.attributes
    src = (attrs.get("src") or attrs.get("data-src") or "").strip()
    alt = attrs.get("alt") or None
    width = _int(attrs.get("width"))
    height = _int(attrs.get("height"))
    data = _DATA_URI.match(src)
    if data:
        mime, params, payload = data.group(1), data.group(2) or "", data.group(3)
        size = _base64_size(payload) if ";base64" in params else len(payload.encode())
        return P.image(None, alt=alt, mime_type=mime, size_bytes=size, width=width, height=height)
    return P.image(src or None, alt=alt, width=width, height=height)


# --- text helpers ----------------------------------------------------------------------------


def _children(node: LexborNode) -> list[LexborNode]:
    out: list[LexborNode] = []
    child = node.child
    while child is not None:
        out.append(child)
        child = child.next
    return out


def _inline_text(node: LexborNode) -> str:
    """Collapsed visible text under ``node`` (scripts and styles left out)."""
    pieces: list[str] = []
    _collect_text(node, pieces, verbatim=False)
    return _tidy("".join(pieces))


def _verbatim_text(node: LexborNode) -> str:
    pieces: list[str] = []
    _collect_text(node, pieces, verbatim=True)
    return "".join(pieces)


def _collect_text(node: LexborNode, pieces: list[str], *, verbatim: bool) -> None:
    child = node.child
    while child is not None:
        tag = child.tag
        if tag == "-text":
            value = child.text(deep=False) or ""
            pieces.append(value if verbatim else _SPACES.sub(" ", value))
        elif tag == "br":
            pieces.append("\n")
        elif tag is not None and not tag.startswith("-") and tag not in _DROP:
            # Block boundaries separate words even where the markup has no whitespace.
            boundary = not verbatim and (tag in _BLOCKS or tag in _CELL_LIKE)
            if boundary:
                pieces.append(" ")
            _collect_text(child, pieces, verbatim=verbatim)
            if boundary:
                pieces.append(" ")
        child = child.next


def _tidy(text: str) -> str:
    lines = [_RUNS_OF_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def _start_number(node: LexborNode) -> int:
    value = _int(node.attributes.get("start"))
    return value if value is not None else 1


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _base64_size(payload: str) -> int | None:
    cleaned = re.sub(r"\s+", "", payload)
    try:
        return len(base64.b64decode(cleaned, validate=False))
    except (binascii.Error, ValueError):
        return None
