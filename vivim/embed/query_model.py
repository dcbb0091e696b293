"""The query encoder: the same all-MiniLM-L6-v2, with int8 matrix products.

A search embeds one short query, and on that the model's float matrix products take about
5 ms on one core. ONNX Runtime's dynamic quantisation (int8 weights per output channel,
activations quantised as they come) does them in int8, which this CPU runs natively, and
the query's vector stays within a cosine of 0.98 of the float model's (0.99 on average).
Before quantising, the graph is rewritten in ONNX Runtime's fused transformer operators
(vivim.embed.bert_graph): 2.0-2.1 ms of CPU a query, against 2.7-2.9 ms for the packaged
graph quantised as it is. Stored units keep the float model's vectors; only queries use
this one (docs/SEARCH.md has the retrieval figures).

The quantised model is derived from the packaged one on first use, in a few seconds, and
kept in a cache directory (``VIVIM_CACHE_DIR``, else the user's cache directory) under a
name that changes with the source model, ONNX Runtime's version and this recipe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

import platformdirs

CACHE_DIR_ENV = "VIVIM_CACHE_DIR"
RECIPE = "fused-dynamic-int8-per-channel-v3"
# all-MiniLM-L6-v2's attention heads (its config; the weights do not say).
NUM_HEADS = 12

_lock = threading.Lock()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("vivim", appauthor=False))


def quantized_query_model(source: Path, directory: Path | None = None) -> Path:
    """Path of the int8 query model derived from ``source``; derived now if not cached."""
    import onnxruntime

    digest = hashlib.sha256()
    digest.update(f"{RECIPE}\x1f{onnxruntime.__version__}\x1f".encode())
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    target = (directory or cache_dir()) / f"minilm-query-{digest.hexdigest()[:16]}.onnx"
    with _lock:
        if not target.exists():
            _derive(source, target)
    return target


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    # quantize_dynamic advises, on the root logger, a pre-processing step meant for
    # models whose shapes are unknown; this one's are, so the advice is noise.
    return "pre-processing before quantization" not in record.getMessage()


def _derive(source: Path, target: Path) -> None:
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from vivim.embed.bert_graph import fused_bert

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".derive-") as work:
        # The package stores int8 weights that the graph casts back to float on every run;
        # basic optimisation folds that into float weights, which quantize_dynamic needs.
        folded = Path(work) / "folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        fused = Path(work) / "fused.onnx"
        onnx.save(fused_bert(onnx.load(str(folded)), num_heads=NUM_HEADS), str(fused))
        quantized = Path(work) / "query.onnx"
        root = logging.getLogger()
        root.addFilter(_no_preprocessing_advice)
        try:
            quantize_dynamic(
                fused,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                # The fused operators' outputs carry no inferred type; they are all float.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.removeFilter(_no_preprocessing_advice)
        # Atomic: another process deriving the same file at the same time is harmless.
        os.replace(quantized, target)
