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

from selectolax.lexbor import LexborNode

from vivim.domain import parts as P
from vivim.domain.parts import Part

Node = LexborNode
Block = str | Part
"""A rendered block: markdown-ish text, or a finished non-text part."""

SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "button", "input", "textarea",
        "select", "option", "canvas", "iframe", "object", "embed", "head", "title", "meta",
        "link", "audio", "video", "source", "track", "map", "area", "dialog",
    }
)  # fmt: skip
INLINE_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font",
        "i", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong",
        "sub", "sup", "time", "tt", "u", "var", "label", "wbr", "br", "nobr",
    }
)  # fmt: skip
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Descendants that stop an inline element from being rendered as one run of text.
_BLOCKISH = (
    "address,article,aside,blockquote,details,div,dl,fieldset,figure,footer,form,"
    "h1,h2,h3,h4,h5,h6,header,hr,li,main,nav,ol,p,pre,section,table,ul,img,"
    ".katex-display,mjx-container[display=true],math[display=block],.cm-editor"
)
# Where the search for a code block's wrapper stops: these carry structure of their own.
_WRAPPER_STOP = frozenset(
    {"li", "td", "th", "tr", "table", "ul", "ol", "blockquote", "body", "html", "article", "main"}
)
_MAX_WRAPPER_DEPTH = 6
_MAX_LABEL = 40
_LABEL_RE = re.compile(r"^[\w+#.\-]{1,30}( [\w+#.\-]{1,30})?$")
_LANG_CLASS_RE = re.compile(r"(?:^|\s)(?:language|lang)-([\w+#.\-]+)")
_PRE_STYLE_RE = re.compile(r"white-space\s*:\s*(pre|break-spaces)")
_PRE_CLASSES = frozenset(
    {"whitespace-pre", "whitespace-pre-wrap", "whitespace-pre-line", "whitespace-break-spaces"}
)
_WS_RE = re.compile(r"\s+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_MERMAID_FIRST_WORDS = frozenset(
    {
        "sequenceDiagram", "classDiagram", "stateDiagram", "stateDiagram-v2", "erDiagram",
        "journey", "gantt", "pie", "quadrantChart", "requirementDiagram", "gitGraph",
        "mindmap", "timeline", "sankey-beta", "xychart-beta", "block-beta", "packet-beta",
        "architecture-beta", "kanban", "C4Context", "C4Container", "C4Component",
    }
)  # fmt: skip
_MERMAID_GRAPH_RE = re.compile(r"^(graph|flowchart)\s+(TB|TD|BT|RL|LR)\b")
_DATA_URI_RE = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),(.*)$", re.S)


def classes(node: Node) -> list[str]:
    return (node.attributes.get("class") or "").split()


def has_class(node: Node, name: str) -> bool:
    return name in classes(node)


def element_children(node: Node) -> list[Node]:
    out = []
    child = node.child
    while child is not None:
        if child.is_element_node:
            out.append(child)
        child = child.next
    return out


def has_ancestor(node: Node, predicate: Callable[[Node], bool], stop: Node | None = None) -> bool:
    """Whether an ancestor of ``node`` (below ``stop``) satisfies ``predicate``."""
    cur = node.parent
    stop_id = stop.mem_id if stop is not None else None
    while cur is not None and cur.mem_id != stop_id:
        if cur.is_element_node and predicate(cur):
            return True
        cur = cur.parent
    return False


def normalize_space(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


def is_hidden(node: Node) -> bool:
    """Hidden by markup (not by stylesheet, which a saved page does not let us evaluate)."""
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    cls = attrs.get("class") or ""
    if not cls:
        return False
    names = cls.split()
    # sr-only: screen-reader labels ("You said:"); sf-hidden: what SingleFile blanked out.
    return "sr-only" in names or "sf-hidden" in names


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
    ann = node.css_first('annotation[encoding="application/x-tex"]')
    if ann is not None:
        return ann.text(deep=True).strip()
    for attr in ("data-latex", "data-tex", "data-math", "alttext"):
        value = node.attributes.get(attr)
        if value:
            return value.strip()
    math = node.css_first("math")
    if math is not None and math.attributes.get("alttext"):
        return (math.attributes.get("alttext") or "").strip()
    mathml = node.css_first(".katex-mathml") or math or node
    return normalize_space(mathml.text(deep=True))


def looks_like_mermaid(source: str) -> bool:
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if not first:
        return False
    if _MERMAID_GRAPH_RE.match(first):
        return True
    return first.split()[0].rstrip(":") in _MERMAID_FIRST_WORDS


class _CodeBlock:
    __slots__ = ("core", "wrapper", "label", "mermaid_hint")

    def __init__(self, core: Node, wrapper: Node, label: str | None, mermaid_hint: bool) -> None:
        self.core = core
        self.wrapper = wrapper
        self.label = label
        self.mermaid_hint = mermaid_hint


class Converter:
    """Converts one message element (and what it contains) into parts.

    ``skip`` lets a provider module hide its own chrome (thinking panels it reads
    separately, citation carousels); ``base_url`` resolves relative links and image sources.
    """

    def __init__(
        self, *, base_url: str | None = None, skip: Callable[[Node], bool] | None = None
    ) -> None:
        self.base_url = base_url
        self.skip = skip
        self._code: dict[int, _CodeBlock] = {}

    # -- entry point -------------------------------------------------------------------

    def parts(self, root: Node, *, preserve_whitespace: bool = False) -> list[Part]:
        """Parts for everything inside ``root``.

        ``preserve_whitespace`` is for plain-text user messages whose line breaks the page
        keeps with a stylesheet rule the saved markup does not show.
        """
        self._index_code_blocks(root)
        try:
            blocks = self._container(root, preserve_whitespace or self._is_pre(root))
        finally:
            self._code = {}
        return merge_blocks(blocks)

    # -- code blocks -------------------------------------------------------------------

    def _index_code_blocks(self, root: Node) -> None:
        """Find every code block once, with the element that wraps it and its label.

        Providers put the language in a header above the code (``<div>python</div>`` next
        to a Copy button); the walk upwards from the code finds the largest wrapper whose
        only other text is such a label, so the walker can replace the whole wrapper.
        """
        cores: list[Node] = []
        for pre in root.css("pre"):
            if pre.css_first("pre") is not None:
                continue  # an outer <pre> used as a wrapper; its inner one is the block
            code = pre.css_first("code")
            cores.append(code if code is not None else pre)
        for content in root.css(".cm-content"):
            if not has_ancestor(content, lambda n: n.tag == "pre", root):
                cores.append(content)
        if not cores:
            return
        # How many code blocks each ancestor holds: a wrapper must hold exactly one.
        holders: dict[int, int] = {}
        for core in cores:
            cur = core.parent
            for _ in range(_MAX_WRAPPER_DEPTH + 1):
                if cur is None or cur.mem_id == root.mem_id:
                    break
                holders[cur.mem_id] = holders.get(cur.mem_id, 0) + 1
                cur = cur.parent
        for core in cores:
            wrapper = core
            label: str | None = None
            mermaid_hint = "mermaid" in (core.attributes.get("class") or "").lower()
            cur = core.parent
            for _ in range(_MAX_WRAPPER_DEPTH):
                if cur is None or cur.mem_id == root.mem_id or cur.tag in _WRAPPER_STOP:
                    break
                if holders.get(cur.mem_id, 0) > 1:
                    break
                other = _label_text(cur, core)
                if other is None:
                    break
                if other:
                    if not _LABEL_RE.match(other) or (label is not None and other != label):
                        break
                    label = other
                wrapper = cur
                if "mermaid" in (cur.attributes.get("class") or "").lower():
                    mermaid_hint = True
                cur = cur.parent
            if core.tag == "code" and core.parent is not None and wrapper.mem_id == core.mem_id:
                wrapper = core.parent  # never leave the bare <pre> around a claimed <code>
            self._code[wrapper.mem_id] = _CodeBlock(core, wrapper, label, mermaid_hint)

    def _code_part(self, block: _CodeBlock) -> Part:
        source = code_text(block.core)
        language = _language(block)
        if language == "mermaid" or (
            (language is None or block.mermaid_hint) and (block.mermaid_hint or looks_like_mermaid(source))
        ):
            return P.mermaid(source)
        return P.code(source, language)

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
                else:
                    _flush(buf, pre, out)
                    out.extend(self._element(child, pre))
            child = child.next
        _flush(buf, pre, out)
        return out

    def _is_inline(self, node: Node) -> bool:
        if node.tag not in INLINE_TAGS or node.mem_id in self._code:
            return False
        names = classes(node)
        if "katex-display" in names:
            return False
        if "katex" in names:
            return True
        return node.css_first(_BLOCKISH) is None

    def _element(self, node: Node, pre: bool) -> list[Block]:
        block = self._code.get(node.mem_id)
        if block is not None:
            return [self._code_part(block)]
        tag = node.tag
        names = classes(node)
        if "katex-display" in names:
            return [P.latex(tex_source(node), display=True)]
        if "katex" in names:
            return [P.latex(tex_source(node), display=False)]
        if tag in SKIP_TAGS or is_hidden(node) or (self.skip is not None and self.skip(node)):
            return []
        if tag == "math":
            return [P.latex(tex_source(node), display=node.attributes.get("display") == "block")]
        if tag == "mjx-container":
            return [P.latex(tex_source(node), display=node.attributes.get("display") == "true")]
        if tag == "table":
            return [self._table(node)]
        if tag == "img":
            part = self._image(node)
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
                "\n".join("> " + line if line else ">" for line in b.split("\n"))
                if isinstance(b, str)
                else b
                for b in self._container(node, pre)
            ]
        if tag == "pre":
            return [P.code(code_text(node), _class_language(node))]
        if "mermaid" in names and node.css_first("svg") is not None and not node.text(deep=True).strip():
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
                    item, marker = [], " " * len(marker)
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
        for tr in node.css("tr"):
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

    def _image(self, node: Node) -> Part | None:
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
        ref = urljoin(self.base_url, src) if self.base_url else src
        return P.image(ref, alt=alt, width=width, height=height)

    # -- inline level ------------------------------------------------------------------

    def _inline(self, node: Node, pre: bool) -> str:
        tag = node.tag
        names = classes(node)
        if "katex" in names:
            return f"${tex_source(node)}$"
        if tag in SKIP_TAGS or is_hidden(node) or (self.skip is not None and self.skip(node)):
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


def code_text(core: Node) -> str:
    """Source text of a code block, line structure restored from the highlighter's markup."""
    lines = [c for c in element_children(core) if has_class(c, "cm-line")]
    if lines:  # CodeMirror: one element per line, no newline characters between them
        text = "\n".join(_code_run(line, in_line=True) for line in lines)
    else:
        text = _code_run(core, in_line=False)
        line_spans = [c for c in element_children(core) if has_class(c, "line")]
        if len(line_spans) > 1 and text.count("\n") < len(line_spans) - 1:
            text = "\n".join(_code_run(s, in_line=True) for s in line_spans)
    return text.strip("\n").rstrip()


def _code_run(node: Node, *, in_line: bool) -> str:
    pieces: list[str] = []

    def walk(n: Node) -> None:
        child = n.child
        while child is not None:
            if child.is_text_node:
                pieces.append(child.text_content or "")
            elif child.is_element_node:
                tag = child.tag
                if tag == "br":
                    if not in_line:
                        pieces.append("\n")
                elif tag not in SKIP_TAGS and child.attributes.get("aria-hidden") != "true":
                    walk(child)
            child = child.next

    walk(node)
    return "".join(pieces)


def _label_text(node: Node, exclude: Node) -> str | None:
    """Visible text of ``node`` outside ``exclude``; None once it is longer than a label."""
    pieces: list[str] = []
    size = 0
    exclude_id = exclude.mem_id

    def walk(n: Node) -> bool:
        nonlocal size
        child = n.child
        while child is not None:
            if child.is_text_node:
                t = (child.text_content or "").strip()
                if t:
                    pieces.append(t)
                    size += len(t)
                    if size > _MAX_LABEL:
                        return False
            elif child.is_element_node and child.mem_id != exclude_id:
                if not (child.tag in SKIP_TAGS or is_hidden(child) or child.attributes.get("role") == "button"):
                    if not walk(child):
                        return False
            child = child.next
        return True

    if not walk(node):
        return None
    return " ".join(pieces).strip().lower()


def _class_language(node: Node) -> str | None:
    for attr in ("class",):
        m = _LANG_CLASS_RE.search(node.attributes.get(attr) or "")
        if m:
            return m.group(1).lower()
    lang = node.attributes.get("data-language") or node.attributes.get("data-lang")
    return lang.strip().lower() if lang and lang.strip() else None


def _language(block: _CodeBlock) -> str | None:
    """The explicit class or attribute on the code or its wrappers first, then the label."""
    cur: Node | None = block.core
    stop = block.wrapper.parent.mem_id if block.wrapper.parent is not None else None
    while cur is not None and cur.mem_id != stop:
        lang = _class_language(cur)
        if lang:
            return lang
        cur = cur.parent
    return block.label


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
        lines = [line.strip() for line in text.split("\n")]
    cleaned = _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
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
