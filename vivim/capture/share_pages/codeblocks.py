"""Code blocks in rendered chat HTML: where they are, their source, language, and whether
they are mermaid diagrams.

Providers wrap code in their own chrome: a header with the language name and a Copy
button (ChatGPT, Claude, DeepSeek, LMArena, z.ai), highlighter spans per token (Prism,
highlight.js), one element per line (Shiki, CodeMirror). A block is found from its core
(the innermost ``<pre>``/``<code>``, or a CodeMirror ``.cm-content``), then the walk upwards
finds the largest wrapper whose only other text is such a label, so the converter can
replace the whole wrapper by one part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vivim.capture.share_pages.nodes import (
    SKIP_TAGS,
    Node,
    element_children,
    find,
    find_all,
    has_ancestor,
    has_class,
    is_hidden,
)
from vivim.domain import parts as P
from vivim.domain.parts import Part

# Where the search for a wrapper stops: these elements carry structure of their own.
_WRAPPER_STOP = frozenset(
    {"li", "td", "th", "tr", "table", "ul", "ol", "blockquote", "body", "html", "article", "main"}
)
_MAX_WRAPPER_DEPTH = 6
_MAX_LABEL = 40
_LABEL_RE = re.compile(r"^[\w+#.\-]{1,30}( [\w+#.\-]{1,30})?$")
_LANG_CLASS_RE = re.compile(r"(?:^|\s)(?:language|lang)-([\w+#.\-]+)")
_MERMAID_FIRST_WORDS = frozenset(
    {
        "sequenceDiagram", "classDiagram", "stateDiagram", "stateDiagram-v2", "erDiagram",
        "journey", "gantt", "pie", "quadrantChart", "requirementDiagram", "gitGraph",
        "mindmap", "timeline", "sankey-beta", "xychart-beta", "block-beta", "packet-beta",
        "architecture-beta", "kanban", "C4Context", "C4Container", "C4Component",
    }
)  # fmt: skip
_MERMAID_GRAPH_RE = re.compile(r"^(graph|flowchart)\s+(TB|TD|BT|RL|LR)\b")


@dataclass(frozen=True, slots=True)
class CodeBlock:
    core: Node
    """The element holding the source text."""
    wrapper: Node
    """The outermost element that is nothing but this block (plus label and buttons)."""
    label: str | None
    """The language name shown in the block's header, lowercased."""
    mermaid_hint: bool
    """A class on the block says mermaid (``group/mermaid``, ``language-mermaid``)."""

    def to_part(self) -> Part:
        source = code_text(self.core)
        language = self.language()
        if language == "mermaid" or self.mermaid_hint or (language is None and looks_like_mermaid(source)):
            return P.mermaid(source)
        return P.code(source, language)

    def language(self) -> str | None:
        """An explicit class or attribute on the code or its wrappers first, then the label."""
        stop = self.wrapper.parent.mem_id if self.wrapper.parent is not None else None
        cur: Node | None = self.core
        while cur is not None and cur.mem_id != stop:
            lang = class_language(cur)
            if lang:
                return lang
            cur = cur.parent
        return self.label


def find_code_blocks(root: Node) -> dict[int, CodeBlock]:
    """Every code block under ``root``, keyed by its wrapper's ``mem_id``."""
    cores: list[Node] = []
    for pre in find_all(root, "pre"):
        if find(pre, "pre") is not None:
            continue  # an outer <pre> used as a wrapper; its inner one is the block
        code = find(pre, "code")
        cores.append(code if code is not None else pre)
    for content in find_all(root, ".cm-content"):
        if not has_ancestor(content, lambda n: n.tag == "pre", root):
            cores.append(content)
    if not cores:
        return {}
    # How many blocks each ancestor holds: a wrapper must hold exactly one.
    holders: dict[int, int] = {}
    for core in cores:
        cur = core.parent
        for _ in range(_MAX_WRAPPER_DEPTH + 1):
            if cur is None or cur.mem_id == root.mem_id:
                break
            holders[cur.mem_id] = holders.get(cur.mem_id, 0) + 1
            cur = cur.parent
    found: dict[int, CodeBlock] = {}
    for core in cores:
        block = _grow(core, root, holders)
        found[block.wrapper.mem_id] = block
    return found


def _grow(core: Node, root: Node, holders: dict[int, int]) -> CodeBlock:
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
        wrapper = core.parent  # never leave the bare <pre> around a claimed <code> behind
    return CodeBlock(core, wrapper, label, mermaid_hint)


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


def class_language(node: Node) -> str | None:
    m = _LANG_CLASS_RE.search(node.attributes.get("class") or "")
    if m:
        return m.group(1).lower()
    lang = node.attributes.get("data-language") or node.attributes.get("data-lang")
    return lang.strip().lower() if lang and lang.strip() else None


def looks_like_mermaid(source: str) -> bool:
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if not first:
        return False
    if _MERMAID_GRAPH_RE.match(first):
        return True
    return first.split()[0].rstrip(":") in _MERMAID_FIRST_WORDS


def _code_run(node: Node, *, in_line: bool) -> str:
    pieces: list[str] = []

    def walk(n: Node) -> None:
        child = n.child
        while child is not None:
            if child.is_text_node:
                pieces.append(child.text_content or "")
            elif child.is_element_node:
                if child.tag == "br":
                    if not in_line:
                        pieces.append("\n")
                # aria-hidden: line-number gutters and cursor layers
                elif child.tag not in SKIP_TAGS and child.attributes.get("aria-hidden") != "true":
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
            elif (
                child.is_element_node
                and child.mem_id != exclude_id
                and not (
                    child.tag in SKIP_TAGS or is_hidden(child) or child.attributes.get("role") == "button"
                )
                and not walk(child)
            ):
                return False
            child = child.next
        return True

    if not walk(node):
        return None
    return " ".join(pieces).strip().lower()
