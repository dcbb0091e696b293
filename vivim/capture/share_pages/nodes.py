"""Small helpers over selectolax (lexbor) element nodes, shared by the page readers.

Lexbor's ``css``/``css_first`` also match the node they are called on; ``find`` and
``find_all`` here return descendants only, which is what every caller means.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from selectolax.lexbor import LexborNode

Node = LexborNode

SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "button", "input", "textarea",
        "select", "option", "canvas", "iframe", "object", "embed", "head", "title", "meta",
        "link", "audio", "video", "source", "track", "map", "area", "dialog",
    }
)  # fmt: skip
"""Elements whose text is never message content (controls, media, code, metadata)."""

_WS_RE = re.compile(r"\s+")


def classes(node: Node) -> list[str]:
    return (node.attributes.get("class") or "").split()


def has_class(node: Node, name: str) -> bool:
    return name in classes(node)


def find_all(node: Node, selector: str) -> list[Node]:
    """Descendants matching ``selector``; lexbor's ``css`` also matches the node itself."""
    own = node.mem_id
    return [n for n in node.css(selector) if n.mem_id != own]


def find(node: Node, selector: str) -> Node | None:
    first = node.css_first(selector)
    if first is None or first.mem_id != node.mem_id:
        return first
    # The node matched itself; only then is the full (slower) match list needed.
    return next(iter(find_all(node, selector)), None)


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
