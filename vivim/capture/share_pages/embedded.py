"""Data that pages embed in their scripts, decoded without running any JavaScript.

Two shapes occur in share pages: React Router's turbo-stream (ChatGPT streams its loader
data through ``streamController.enqueue("<json>")``) and a plain JavaScript object literal
assigned to a global (Kimi's ``window.HYDRATION_INIT_STATE = {...}``), which is JSON except
for ``undefined`` and ``BigInt("...")``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

# turbo-stream v2 (react-router 7) constants for values that are not indexes.
_SPECIAL: dict[int, Any] = {
    -1: None,  # hole
    -2: float("nan"),
    -3: float("-inf"),
    -4: -0.0,
    -5: None,  # null
    -6: float("inf"),
    -7: None,  # undefined
}
_JS_TOKEN = re.compile(r'"|\bundefined\b|\bBigInt\(\s*"?(-?\d+)"?\s*\)')
_JS_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_ENQUEUE = re.compile(r"streamController\.enqueue\((\"(?:[^\"\\]|\\.)*\")\)", re.S)


def scripts_containing(tree: LexborHTMLParser, needle: str) -> list[str]:
    return [text for s in tree.css("script") if needle in (text := s.text(deep=True))]


def turbo_stream_payloads(tree: LexborHTMLParser) -> list[Any]:
    """Decoded top-level values of every turbo-stream chunk that starts a stream."""
    out: list[Any] = []
    for script in scripts_containing(tree, "streamController.enqueue("):
        for m in _ENQUEUE.finditer(script):
            try:
                chunk = json.loads(m.group(1))
            except json.JSONDecodeError:
                continue
            if not isinstance(chunk, str) or not chunk.startswith("["):
                continue  # "P12:[...]" lines resolve promises; the data is in the first chunk
            try:
                flat = json.loads(chunk)
            except json.JSONDecodeError:
                continue
            if isinstance(flat, list) and flat:
                out.append(decode_turbo_stream(flat))
    return out


def decode_turbo_stream(flat: list[Any]) -> Any:
    """Rebuild the value a flat turbo-stream array describes.

    Objects are ``{"_<key index>": <value index>}``, arrays are lists of indexes, negative
    indexes are special constants and a list starting with a string is a typed value (a
    date, a promise, ...): dates become epoch milliseconds, the rest None.
    """
    memo: dict[int, Any] = {}

    def value(index: Any) -> Any:
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        if index < 0:
            return _SPECIAL.get(index)
        if index >= len(flat):
            return None
        if index in memo:
            return memo[index]
        raw = flat[index]
        if isinstance(raw, dict):
            obj: dict[str, Any] = {}
            memo[index] = obj
            for key, vi in raw.items():
                try:
                    name = flat[int(key[1:])]
                except (ValueError, IndexError):
                    continue
                obj[str(name)] = value(vi)
            return obj
        if isinstance(raw, list):
            if raw and isinstance(raw[0], str):
                memo[index] = raw[1] if raw[0] == "D" and len(raw) > 1 else None
                return memo[index]
            arr: list[Any] = []
            memo[index] = arr
            arr.extend(value(i) for i in raw)
            return arr
        return raw

    return value(0)


def js_assignment(tree: LexborHTMLParser, name: str) -> Any:
    """The object literal assigned to ``name`` in an inline script, or None."""
    needle = name + "="
    for script in scripts_containing(tree, name):
        compact = script.lstrip()
        at = compact.find(needle)
        if at < 0:
            at = compact.find(name + " =")
            if at < 0:
                continue
        body = compact[compact.index("=", at) + 1 :].strip().rstrip(";").strip()
        try:
            return json.loads(js_literal_to_json(body))
        except json.JSONDecodeError:
            continue
    return None


def js_literal_to_json(text: str) -> str:
    """Rewrite ``undefined`` and ``BigInt("n")`` outside strings so JSON can read the rest."""
    out: list[str] = []
    pos = 0
    while True:
        m = _JS_TOKEN.search(text, pos)
        if m is None:
            out.append(text[pos:])
            return "".join(out)
        if m.group(0) == '"':
            s = _JS_STRING.match(text, m.start())
            end = s.end() if s else len(text)
            out.append(text[pos:end])
            pos = end
            continue
        out.append(text[pos : m.start()])
        out.append(m.group(1) if m.group(1) is not None else "null")
        pos = m.end()
