"""A bundle as text, Markdown or JSON (the JSON carries the Markdown content and the
composition: what came from where and how many tokens each layer used)."""

from __future__ import annotations

import json

from vivim.context.bundle import Bundle
from vivim.domain.errors import InvalidInput

FORMATS = ("text", "markdown", "json")


def style_for(fmt: str) -> str:
    """The style a bundle is assembled in for an output format (the budget is enforced on
    exactly the text that is shown)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return "text" if fmt == "text" else "markdown"


def render(bundle: Bundle, fmt: str) -> str:
    style_for(fmt)
    if fmt == "json":
        return json.dumps(bundle.to_json(), ensure_ascii=False)
    return bundle.content


def summary_line(bundle: Bundle) -> str:
    """One line on where the tokens went, e.g. for a CLI footer."""
    parts = [
        f"{name} {layer['tokens']}"
        for name, layer in bundle.composition.get("layers", {}).items()
        if layer.get("tokens")
    ]
    state = "cached" if bundle.cached else "assembled"
    return f"{bundle.total_tokens}/{bundle.budget} tokens ({state}): " + ", ".join(parts)
