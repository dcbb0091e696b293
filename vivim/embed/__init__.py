"""Local text embeddings: the :class:`Embedder` interface and the default MiniLM model."""

from vivim.embed.base import Embedder, blob_to_vector, vector_to_blob
from vivim.embed.minilm import MiniLMEmbedder

__all__ = ["Embedder", "MiniLMEmbedder", "blob_to_vector", "vector_to_blob"]
