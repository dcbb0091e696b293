"""Search over units: full-text (FTS5 BM25), vectors, and their fusion."""
