"""The embedder interface, and how vectors are stored as BLOBs."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

# Stored BLOBs are little-endian float32 on every platform, so a vault file moved
# between machines still decodes to the same vectors.
_BLOB_DTYPE = np.dtype("<f4")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    ``model_id`` is stored beside every vector so vectors from different models are
    never compared with each other.
    """

    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``: float32, shape ``(len(texts), dim)``, unit-length rows."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One vector of shape ``(dim,)`` for a search query."""
        ...


def vector_to_blob(vector: np.ndarray) -> bytes:
    """Little-endian float32 bytes of a 1-D vector."""
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {array.shape}")
    return array.astype(_BLOB_DTYPE, copy=False).tobytes()


def blob_to_vector(blob: bytes, dim: int) -> np.ndarray:
    """The float32 vector stored by :func:`vector_to_blob`; checks its length against ``dim``."""
    if len(blob) != dim * _BLOB_DTYPE.itemsize:
        raise ValueError(f"blob of {len(blob)} bytes is not a {dim}-dimensional float32 vector")
    return np.frombuffer(blob, dtype=_BLOB_DTYPE).astype(np.float32)
