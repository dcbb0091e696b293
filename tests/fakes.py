"""Small fakes for fast tests (every capability also has tests with the real component)."""

from __future__ import annotations

import hashlib
import re

import numpy as np


class HashingEmbedder:
    """A deterministic bag-of-words embedder: words hashed into 64 dimensions. Similar
    wording gives similar vectors, which is all the search plumbing needs to be tested."""

    model_id = "test-hashing-64"
    dim = 64

    def __init__(self, fail_after_batches: int | None = None) -> None:
        self.calls = 0
        self.fail_after_batches = fail_after_batches

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.fail_after_batches is not None and self.calls > self.fail_after_batches:
            raise KeyboardInterrupt("simulated kill during indexing")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
