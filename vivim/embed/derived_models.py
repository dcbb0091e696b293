"""The models vivim runs, derived once from the packaged all-MiniLM-L6-v2.

**Documents**: the packaged graph's weights rewritten in ONNX Runtime's fused transformer
operators (vivim.embed.bert_graph), float as before. The same vectors (hidden states within
1e-4 of the packaged graph's), in about 0.7 of the time on batches of chat turns
(docs/PERFORMANCE.md): the packaged export spells attention out in some sixty nodes a layer,
which ONNX Runtime does not fuse.

**Queries**: that graph with int8 matrix products. A search embeds one short query, and on
that the float matrix products take about 5 ms on one core. ONNX Runtime's dynamic
quantisation (int8 weights per output channel, activations quantised as they come) does
them in int8, which this CPU runs natively: 2.0-2.1 ms of CPU a query (2.7-2.9 ms for the
packaged graph quantised as it is), and the query's vector stays within a cosine of 0.98 of
the float model's (0.99 on average). Stored units keep the float model's vectors; only
queries use this one (docs/SEARCH.md has the retrieval figures).

Both are derived on first use, in a few seconds, and kept in a cache directory
(``VIVIM_CACHE_DIR``, else the user's cache directory) under names that change with the
source model, ONNX Runtime's version and the recipe; deriving one removes those of its
kind that an earlier version left there. Where deriving fails (no writable cache, no
quantiser, a packaged graph of another shape) the caller runs the packaged model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import platformdirs

CACHE_DIR_ENV = "VIVIM_CACHE_DIR"
DOCUMENT_RECIPE = "fused-float-v1"
QUERY_RECIPE = "fused-dynamic-int8-per-channel-v3"
# all-MiniLM-L6-v2's attention heads (its config; the weights do not say).
NUM_HEADS = 12

# Re-entrant: deriving the query model derives the document model first.
_lock = threading.RLock()


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("vivim", appauthor=False))


def fused_document_model(source: Path, directory: Path | None = None) -> Path:
    """Path of the fused float model derived from ``source``; derived now if not cached."""
    return _cached(source, directory, "fused", DOCUMENT_RECIPE, _derive_fused)


def quantized_query_model(source: Path, directory: Path | None = None) -> Path:
    """Path of the int8 query model derived from ``source``; derived now if not cached."""

    def derive(source: Path, target: Path) -> None:
        _quantise(fused_document_model(source, directory), target)

    # Named by both recipes: a new document graph means a new query model too.
    return _cached(source, directory, "query", f"{QUERY_RECIPE}/{DOCUMENT_RECIPE}", derive)


def _cached(
    source: Path, directory: Path | None, kind: str, recipe: str, derive: Callable[[Path, Path], None]
) -> Path:
    import onnxruntime

    digest = hashlib.sha256()
    digest.update(f"{recipe}\x1f{onnxruntime.__version__}\x1f".encode())
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    target = (directory or cache_dir()) / f"minilm-{kind}-{digest.hexdigest()[:16]}.onnx"
    if not target.exists():
        with _lock:
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=target.parent, prefix=".derive-") as work:
                    derived = Path(work) / target.name
                    derive(source, derived)
                    # Atomic: another process deriving the same file at once is harmless.
                    os.replace(derived, target)
                _remove_superseded(target, kind)
    return target


def _remove_superseded(current: Path, kind: str) -> None:
    """Models of this kind derived by an earlier recipe, ONNX Runtime or package (23-90 MB
    each) would otherwise pile up in the cache directory, one set per upgrade."""
    for old in current.parent.glob(f"minilm-{kind}-*.onnx"):
        if old != current:
            old.unlink(missing_ok=True)


def _derive_fused(source: Path, target: Path) -> None:
    import onnx
    import onnxruntime

    from vivim.embed.bert_graph import fused_bert

    # The package stores int8 weights that the graph casts back to float on every run;
    # basic optimisation folds that into float weights, which the rewrite reads.
    folded = target.with_name("folded.onnx")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    onnx.save(fused_bert(onnx.load(str(folded)), num_heads=NUM_HEADS), str(target))


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    # quantize_dynamic advises, on the root logger, a pre-processing step meant for
    # models whose shapes are unknown; this one's are, so the advice is noise.
    return "pre-processing before quantization" not in record.getMessage()


def _quantise(fused: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_no_preprocessing_advice)
    try:
        quantize_dynamic(
            fused,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The fused operators' outputs carry no inferred type; they are all float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(_no_preprocessing_advice)
