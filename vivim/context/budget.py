"""Token counting (cl100k) and exact truncation.

Joining two texts can tokenise differently from the two texts apart (BPE merges across a
boundary), so nothing here adds up counts of pieces to decide what fits: every decision
that could overshoot is checked against the count of the actual text.
"""

from __future__ import annotations

from functools import lru_cache

from vivim.capture.tokens import count_tokens, encoding

ELLIPSIS = "…"


def count(text: str) -> int:
    return count_tokens(text)


@lru_cache(maxsize=65_536)
def count_cached(text: str) -> int:
    """``count`` for texts seen again and again (facts, memories, instructions): the same
    lines are candidates for every bundle."""
    return count_tokens(text)


def truncate(text: str, max_tokens: int, *, ellipsis: bool = True) -> str:
    """The longest prefix of ``text`` (cut at a token boundary) that counts at most
    ``max_tokens``; with ``ellipsis`` a cut text ends in "…" when that still fits."""
    if max_tokens <= 0 or not text:
        return ""
    enc = encoding()
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    keep = max_tokens - 1 if ellipsis and max_tokens > 1 else max_tokens
    while keep > 0:
        # Decoding a prefix can end inside a multi-byte character (replaced by U+FFFD) or
        # re-tokenise differently; shrink until the decoded text itself fits.
        cut = enc.decode(tokens[:keep]).rstrip("\ufffd").rstrip()
        candidate = cut + ELLIPSIS if ellipsis and keep < max_tokens else cut
        if candidate and count(candidate) <= max_tokens:
            return candidate
        if cut and count(cut) <= max_tokens:
            return cut
        keep -= 1
    return ""
