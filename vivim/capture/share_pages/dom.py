"""Rendered chat HTML -> typed message parts.

Share pages show messages as rendered markdown. This module turns one message's element
tree back into vivim parts: prose becomes markdown-ish ``text`` (headings, lists, emphasis,
links as ``[text](url)``), code blocks become ``code`` with their language (read from a
``language-x`` class or from the header label the provider puts above the block), tables
become ``table``, KaTeX/MathJax become ``latex`` (TeX source from the
``application/x-tex`` annotation), mermaid sources become ``mermaid`` and images become
``image`` references (a ``data:`` URI is reduced to its hash and size).

Inline maths stays inside its sentence as ``$tex$``: splitting a paragraph at every symbol
would scatter one thought over many parts. Only display maths becomes a ``latex`` part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes, urljoin

from vivim.capture.share_pages.codeblocks import CodeBlock, class_language, code_text, find_code_blocks
from vivim.capture.share_pages.nodes import (
    SKIP_TAGS,
    Node,
    classes,
    element_children,
    find,
    find_all,
    is_hidden,
    normalize_space,
)
from vivim.domain import parts as P
from vivim.domain.parts import Part

INLINE_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font",
        "i", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong",
        "sub", "sup", "time", "tt", "u", "var", "label", "wbr", "br", "nobr",
    }
)  # fmt: skip
Block = str | Part
"""A rendered block: markdown-ish text, or a finished non-text part."""

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Descendants that stop an inline element from being rendered as one run of text.
_BLOCKISH = (
    "address,article,aside,blockquote,details,div,dl,fieldset,figure,footer,form,"
    "h1,h2,h3,h4,h5,h6,header,hr,li,main,nav,ol,p,pre,section,table,ul,img,"
    ".katex-display,mjx-container[display=true],math[display=block],.cm-editor"
)
_PRE_STYLE_RE = re.compile(r"white-space\s*:\s*(pre|break-spaces)")
_PRE_CLASSES = frozenset(
    {"whitespace-pre", "whitespace-pre-wrap", "whitespace-pre-line", "whitespace-break-spaces"}
)
_WS_RE = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t]{2,}")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_DATA_URI_RE = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),(.*)$", re.S)


def data_uri_ref(uri: str) -> tuple[str, str | None, int] | None:
    """``data:`` URI -> (short ref ``data:<mime>;sha256=<hex>``, mime type, byte size).

    The bytes themselves are never kept: a pasted screenshot must not bloat every row.
    Returns None for an empty or malformed URI (SingleFile writes ``data:,`` for images it
    dropped).
    """
    m = _DATA_URI_RE.match(uri)
    if m is None:
        return None
    mime = m.group(1).strip().lower() or None
    params = m.group(2) or ""
    payload = m.group(3)
    try:
        if ";base64" in params.lower():
            compact = re.sub(r"\s+", "", payload)
            raw = base64.b64decode(compact + "=" * (-len(compact) % 4))
        else:
            raw = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    if not raw:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    return f"data:{mime or 'application/octet-stream'};sha256={digest}", mime, len(raw)


def tex_source(node: Node) -> str:
    """The TeX behind a rendered formula, or its visible text when no source was kept."""
    ann = find(node, 'annotation[encoding="application/x-tex"]')
    if ann is not None:
        return ann.text(deep=True).strip()
    for attr in ("data-latex", "data-tex", "data-math", "alttext"):
        value = node.attributes.get(attr)
        if value:
            return value.strip()
    math = node if node.tag == "math" else find(node, "math")
    if math is not None and math.attributes.get("alttext"):
        return (math.attributes.get("alttext") or "").strip()
    mathml = find(node, ".katex-mathml") or math or node
    return normalize_space(mathml.text(deep=True))


def image_part(node: Node, base_url: str | None = None) -> Part | None:
    """An ``<img>`` as an image reference; None when it has no usable source."""
    attrs = node.attributes
    src = (attrs.get("src") or attrs.get("data-src") or "").strip()
    if not src:
        return None
    alt = (attrs.get("alt") or "").strip() or None
    width = _int_attr(attrs.get("width"))
    height = _int_attr(attrs.get("height"))
    if src.startswith("data:"):
        info = data_uri_ref(src)
        if info is None:
            return None
        ref, mime, size = info
        return P.image(ref, alt=alt, mime_type=mime, size_bytes=size, width=width, height=height)
    ref = urljoin(base_url, src) if base_url else src
    return P.image(ref, alt=alt, width=width, height=height)


class Converter:
    """Converts one message element (and what it contains) into parts.

    ``skip`` lets a provider module hide its own chrome (thinking panels it reads
    separately, citation carousels); ``base_url`` resolves relative links and image sources.
    """

    def __init__(self, *, base_url: str | None = None, skip: Callable[[Node], bool] | None = None) -> None:
        self.base_url = base_url
        self.skip = skip
        self._code: dict[int, CodeBlock] = {}

    # -- entry point -------------------------------------------------------------------

    def parts(self, root: Node, *, preserve_whitespace: bool = False) -> list[Part]:
        """Parts for everything inside ``root``.

        ``preserve_whitespace`` is for plain-text user messages whose line breaks the page
        keeps with a stylesheet rule the saved markup does not show.
        """
        self._code = find_code_blocks(root)
        try:
            blocks = self._container(root, preserve_whitespace or self._is_pre(root))
        finally:
            self._code = {}
        return merge_blocks(blocks)

    # -- block level -------------------------------------------------------------------

    def _container(self, node: Node, pre: bool) -> list[Block]:
        out: list[Block] = []
        buf: list[str] = []
        child = node.child
        while child is not None:
            if child.is_text_node:
                buf.append(_text(child.text_content or "", pre))
            elif child.is_element_node:
                if self._is_inline(child):
                    buf.append(self._inline(child, pre))
                elif self._skipped(child):
                    pass  # chrome inside a sentence (a citation button) must not split it
                else:
                    _flush(buf, pre, out)
                    out.extend(self._element(child, pre))
            child = child.next
        _flush(buf, pre, out)
        return out

    def _is_inline(self, node: Node) -> bool:
        if _inline_math(node):
            return True
        if node.tag not in INLINE_TAGS or node.mem_id in self._code:
            return False
        names = classes(node)
        if "katex-display" in names:
            return False
        if "katex" in names:
            return True
        return find(node, _BLOCKISH) is None

    def _skipped(self, node: Node) -> bool:
        if node.mem_id in self._code:
            return False
        names = classes(node)
        if "katex" in names or "katex-display" in names:
            return False
        return node.tag in SKIP_TAGS or is_hidden(node) or (self.skip is not None and self.skip(node))

    def _element(self, node: Node, pre: bool) -> list[Block]:
        block = self._code.get(node.mem_id)
        if block is not None:
            return [block.to_part()]
        tag = node.tag
        names = classes(node)
        if "katex-display" in names:
            return [P.latex(tex_source(node), display=True)]
        if "katex" in names:
            return [P.latex(tex_source(node), display=False)]
        if self._skipped(node):
            return []
        if tag == "math":
            return [P.latex(tex_source(node), display=node.attributes.get("display") == "block")]
        if tag == "mjx-container":
            return [P.latex(tex_source(node), display=node.attributes.get("display") == "true")]
        if tag == "table":
            return [self._table(node)]
        if tag == "img":
            part = image_part(node, self.base_url)
            return [part] if part is not None else []
        if tag == "hr" or tag == "br":
            return []
        pre = pre or self._is_pre(node)
        if tag in HEADINGS:
            text = " ".join(b for b in self._container(node, pre) if isinstance(b, str))
            return [f"{'#' * HEADINGS[tag]} {text}"] if text else []
        if tag in ("ul", "ol"):
            return self._list(node, pre, ordered=tag == "ol")
        if tag == "blockquote":
            return [
                "\n".join("> " + line if line else ">" for line in b.split("\n")) if isinstance(b, str) else b
                for b in self._container(node, pre)
            ]
        if tag == "pre":
            return [P.code(code_text(node), class_language(node))]
        if "mermaid" in names and find(node, "svg") is not None and not node.text(deep=True).strip():
            return [P.unknown("mermaid-rendered", None)]  # a diagram whose source the page dropped
        return self._container(node, pre)

    def _list(self, node: Node, pre: bool, *, ordered: bool) -> list[Block]:
        out: list[Block] = []
        lines: list[str] = []
        try:
            number = int(node.attributes.get("start") or 1)
        except ValueError:
            number = 1
        for child in element_children(node):
            if child.tag != "li":
                blocks = self._element(child, pre)
                marker = ""
            else:
                if is_hidden(child) or (self.skip is not None and self.skip(child)):
                    continue
                blocks = self._container(child, pre or self._is_pre(child))
                marker = f"{number}. " if ordered else "- "
                number += 1
            item: list[str] = []
            for b in blocks:
                if isinstance(b, str):
                    item.append(b)
                    continue
                if item:
                    lines.append(_indent("\n".join(item), marker))
                    item = []
                # What follows a code block or formula in the same item is a new text part;
                # indenting it would turn it into an indented code block for markdown readers.
                marker = ""
                if lines:
                    out.append("\n".join(lines))
                    lines = []
                out.append(b)
            if item:
                lines.append(_indent("\n".join(item), marker))
        if lines:
            out.append("\n".join(lines))
        return out

    def _table(self, node: Node) -> Part:
        headers: list[str] = []
        rows: list[list[str]] = []
        for tr in find_all(node, "tr"):
            cells = [c for c in element_children(tr) if c.tag in ("th", "td")]
            if not cells:
                continue
            texts = [self._flat(c) for c in cells]
            in_head = tr.parent is not None and tr.parent.tag == "thead"
            if not headers and not rows and (in_head or all(c.tag == "th" for c in cells)):
                headers = texts
            else:
                rows.append(texts)
        return P.table(headers, rows)

    # -- inline level ------------------------------------------------------------------

    def _inline(self, node: Node, pre: bool) -> str:
        tag = node.tag
        if _inline_math(node):
            return f"${tex_source(node)}$"
        if self._skipped(node):
            return ""
        if tag == "br":
            return "\n"
        if tag == "wbr":
            return ""
        if tag == "code":
            raw = node.text(deep=True)
            raw = raw if pre else _WS_RE.sub(" ", raw)
            return f"`{raw}`" if raw.strip() else raw
        pre = pre or self._is_pre(node)
        pieces: list[str] = []
        child = node.child
        while child is not None:
            if child.is_text_node:
                pieces.append(_text(child.text_content or "", pre))
            elif child.is_element_node:
                pieces.append(self._inline(child, pre))
            child = child.next
        inner = "".join(pieces)
        if tag in ("strong", "b"):
            return _wrap(inner, "**")
        if tag in ("em", "i"):
            return _wrap(inner, "*")
        if tag in ("del", "s", "strike"):
            return _wrap(inner, "~~")
        if tag == "a":
            return self._link(node, inner)
        return inner

    def _link(self, node: Node, inner: str) -> str:
        href = (node.attributes.get("href") or "").strip()
        text = inner.strip()
        if not href or href.startswith(("javascript:", "#")):
            return inner
        if self.base_url:
            href = urljoin(self.base_url, href)
        if not text:
            return ""
        if text == href or text == href.split("://", 1)[-1] or text.rstrip("/") == href.rstrip("/"):
            return inner.replace(text, href)
        lead = inner[: len(inner) - len(inner.lstrip())]
        trail = inner[len(inner.rstrip()) :]
        return f"{lead}[{text}]({href}){trail}"

    def _flat(self, node: Node) -> str:
        """Plain one-line text of a table cell (no markdown markers)."""
        pieces: list[str] = []

        def walk(n: Node) -> None:
            child = n.child
            while child is not None:
                if child.is_text_node:
                    pieces.append(child.text_content or "")
                elif child.is_element_node:
                    names = classes(child)
                    if "katex" in names or "katex-display" in names:
                        pieces.append(f"${tex_source(child)}$")
                    elif child.tag == "br":
                        pieces.append(" ")
                    elif not (child.tag in SKIP_TAGS or is_hidden(child)):
                        if child.tag not in INLINE_TAGS:
                            pieces.append(" ")
                        walk(child)
                child = child.next

        walk(node)
        return normalize_space("".join(pieces))

    @staticmethod
    def _is_pre(node: Node) -> bool:
        attrs = node.attributes
        cls = attrs.get("class")
        if cls and any(name.rstrip("!") in _PRE_CLASSES for name in cls.split()):
            return True
        style = attrs.get("style")
        return bool(style and _PRE_STYLE_RE.search(style))


# -- helpers shared by the walker ---------------------------------------------------------


def _inline_math(node: Node) -> bool:
    """KaTeX, MathJax or MathML set inside a sentence (as opposed to a display formula)."""
    tag = node.tag
    if tag == "mjx-container":
        return node.attributes.get("display") != "true"
    if tag == "math":
        return node.attributes.get("display") != "block"
    return "katex" in classes(node)


def merge_blocks(blocks: list[Block]) -> list[Part]:
    """Join neighbouring text blocks into one text part; keep other parts in order."""
    out: list[Part] = []
    texts: list[str] = []
    for b in blocks:
        if isinstance(b, str):
            if b.strip():
                texts.append(b)
            continue
        if texts:
            out.append(P.text(_MANY_NEWLINES.sub("\n\n", "\n\n".join(texts))))
            texts = []
        out.append(b)
    if texts:
        out.append(P.text(_MANY_NEWLINES.sub("\n\n", "\n\n".join(texts))))
    return out


def _text(raw: str, pre: bool) -> str:
    return raw if pre else _WS_RE.sub(" ", raw)


def _flush(buf: list[str], pre: bool, out: list[Block]) -> None:
    if not buf:
        return
    text = "".join(buf)
    buf.clear()
    if pre:
        lines = [line.rstrip() for line in text.split("\n")]
    else:
        # Neighbouring text nodes each keep one space at their edges; join them to one.
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    cleaned = _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
    # Two bold runs rendered back to back ("**A****B**") would read as one broken marker.
    cleaned = cleaned.replace("****", "** **")
    if cleaned:
        out.append(cleaned)


def _indent(text: str, marker: str) -> str:
    pad = " " * len(marker)
    lines = text.split("\n")
    return "\n".join([marker + lines[0]] + [pad + line if line else line for line in lines[1:]])


def _wrap(inner: str, marker: str) -> str:
    core = inner.strip()
    if not core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def _int_attr(value: str | None) -> int | None:
    if value and value.strip().isdigit():
        return int(value.strip())
    return None
