"""Split markdown message text into typed parts: prose, code, mermaid, display math, tables.

AI answers are markdown. Keeping code blocks, diagrams, formulas and tables as their own parts
lets units, search and statistics treat them as what they are. This runs once per imported
message (hundreds of thousands per import), so text without any markup marker takes a fast
path, and every pattern is compiled once.
"""

from __future__ import annotations

import re

from vivim.domain import parts as P
from vivim.domain.parts import Part

# A fence line: optional indentation, three or more backticks or tildes, an info string.
_FENCE_LINE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\n]*?)[ \t]*$", re.MULTILINE)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.DOTALL)
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")

# Info strings that name something other than program code.
_MATH_LANGUAGES = frozenset({"math"})
_MERMAID_LANGUAGES = frozenset({"mermaid"})


def split_markdown(text: str) -> list[Part]:
    """Typed parts of markdown ``text``, in order; ``[]`` for empty or blank text.

    Fenced code blocks become ``code`` parts (``mermaid`` for mermaid diagrams, ``latex``
    for ``math`` blocks); ``$$...$$`` and ``\\[...\\]`` become display ``latex``; pipe
    tables become ``table``; the prose between them stays ``text``. An unclosed fence runs
    to the end of the text, as in CommonMark (answers cut off mid-block are common).
    """
    if not text or text.isspace():
        return []
    # Most messages are plain prose; a few substring scans settle them without a regex.
    if "|" not in text and "```" not in text and "$$" not in text and "\\[" not in text and "~~~" not in text:
        return [P.text(text)]
    out: list[Part] = []
    if "```" in text or "~~~" in text:
        _split_fences(text, out)
    else:
        _split_prose(text, out)
    return out


def _split_fences(text: str, out: list[Part]) -> None:
    prose_start = 0
    opening: re.Match[str] | None = None
    depth = 0
    for m in _FENCE_LINE.finditer(text):
        fence, info = m.group(2), m.group(3)
        if opening is None:
            # A backtick fence's info string cannot hold backticks: "```x```" is inline code.
            if fence[0] == "`" and "`" in info:
                continue
            opening, depth = m, 0
            continue
        open_fence = opening.group(2)
        if fence[0] != open_fence[0] or len(fence) < len(open_fence):
            continue
        if info:
            # Models often nest a ```lang block inside a same-length fence (markdown
            # examples); count it so its bare closing fence does not end the outer block.
            if len(fence) == len(open_fence):
                depth += 1
            continue
        if depth:
            depth -= 1
            continue
        _split_prose(text[prose_start : opening.start()], out)
        out.append(_code_part(opening, text[opening.end() + 1 : m.start()]))
        prose_start = m.end() + 1
        opening = None
    if opening is not None:
        _split_prose(text[prose_start : opening.start()], out)
        out.append(_code_part(opening, text[opening.end() + 1 :]))
    else:
        _split_prose(text[prose_start:], out)


def _code_part(opening: re.Match[str], body: str) -> Part:
    indent = opening.group(1)
    if body.endswith("\n"):
        body = body[:-1]
    if indent:
        # A fence indented inside a list item: its lines carry the same indentation.
        width = len(indent)
        body = "\n".join(_dedent_line(line, width) for line in body.split("\n"))
    info = opening.group(3)
    language = info.split()[0].lower() if info else None
    if language in _MERMAID_LANGUAGES:
        return P.mermaid(body)
    if language in _MATH_LANGUAGES:
        return P.latex(body.strip(), display=True)
    return P.code(body, language)


def _dedent_line(line: str, width: int) -> str:
    i = 0
    while i < width and i < len(line) and line[i] in " \t":
        i += 1
    return line[i:]


def _split_prose(text: str, out: list[Part]) -> None:
    if not text or text.isspace():
        return
    if "$$" not in text and "\\[" not in text:
        _split_tables(text, out)
        return
    pos = 0
    for m in _DISPLAY_MATH.finditer(text):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        if not body.strip():
            continue
        _split_tables(text[pos : m.start()], out)
        out.append(P.latex(body.strip(), display=True))
        pos = m.end()
    _split_tables(text[pos:], out)


def _split_tables(text: str, out: list[Part]) -> None:
    if "|" not in text:
        _add_text(text, out)
        return
    lines = text.split("\n")
    n = len(lines)
    prose_from = 0
    i = 0
    while i < n - 1:
        header = lines[i]
        delimiter = lines[i + 1]
        if "|" in header and "|" in delimiter and _TABLE_DELIMITER.match(delimiter):
            headers = _cells(header)
            if len(headers) == len(_cells(delimiter)):
                end = i + 2
                while end < n and "|" in lines[end] and lines[end].strip():
                    end += 1
                rows = [_fit(_cells(line), len(headers)) for line in lines[i + 2 : end]]
                _add_text("\n".join(lines[prose_from:i]), out)
                out.append(P.table(headers, rows))
                prose_from = i = end
                continue
        i += 1
    _add_text("\n".join(lines[prose_from:]), out)


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SEPARATOR.split(s)]


def _fit(cells: list[str], width: int) -> list[str]:
    # GitHub's rule: extra cells are dropped, missing ones are empty.
    if len(cells) >= width:
        return cells[:width]
    return cells + [""] * (width - len(cells))


def _add_text(text: str, out: list[Part]) -> None:
    text = _LEADING_BLANK_LINES.sub("", text).rstrip()
    if text:
        out.append(P.text(text))
