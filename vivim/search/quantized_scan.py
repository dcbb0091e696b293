"""The first stage of big vector scans: every vector in 4 bits, scored by ONNX Runtime.

A scan of 100,000 float32 vectors reads 150 MB per query. Here each vector is kept as 4-bit
integers with one scale per 64 dimensions (216 bytes for 384 dimensions, a seventh of the
float vector), and ONNX Runtime's ``MatMulNBits`` (the kernel it runs 4-bit language models
with; with ``accuracy_level`` 4 it multiplies in int8, VNNI where the CPU has it) scores
them: about 1.2 ms for 100,000 vectors and one query, one thread, against 2.4 ms for the
int8 pass this replaced and 12-14 ms for BLAS on the float vectors (docs/PERFORMANCE.md).
Rounding moves a cosine by about 0.004 on average (0.03 at most among 100,000), so the
exact best rows are among the pass's best few hundred, which the caller then scores
exactly (vivim.search.vectors).

Each query has a pass of its own. Concurrent queries could share one (a matrix product
instead of matrix-vector ones, reading the rows once), but the kernel rounds a product of
several queries differently from one alone, so a search's candidates would depend on which
searches ran beside it; under `vivim serve` each search process runs one search at a time
anyway (vivim.search.processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

# Rows quantised per step while building, to bound the float temporaries.
_BUILD_CHUNK = 16_384
# Dimensions that share a scale. 128 scores faster still (0.9-1.0 ms) but rounds coarser:
# of 50 queries' exact best 200 among 100,000 random vectors, 4 of the 10,000 were not in
# its best 500; with 64, none.
_BLOCK = 64
# Symmetric 4 bits: -7..7 stored as 1..15 around MatMulNBits' default zero point, 8.
_LEVELS, _ZERO_POINT = 7, 8


class QuantizedScan:
    """Approximate dot products of queries with every row of a float matrix."""

    def __init__(self, matrix: np.ndarray) -> None:
        n, dim = matrix.shape
        blocks = -(-dim // _BLOCK)
        packed = np.empty((n, blocks, _BLOCK // 2), dtype=np.uint8)  # the layout MatMulNBits wants
        scales = np.empty((n, blocks), dtype=np.float32)
        for start in range(0, n, _BUILD_CHUNK):
            rows = slice(start, start + _BUILD_CHUNK)
            packed[rows], scales[rows] = _quantise(matrix[rows], blocks)
        self.dim = dim
        self._session = _session(packed, scales.reshape(-1), dim)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """float32 (n,): approximately ``matrix @ vector``."""
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (self.dim,):
            raise ValueError(f"a query of shape {query.shape} for vectors of {self.dim} dimensions")
        scores: np.ndarray = self._session.run(None, {"q": query[None]})[0][0]
        return scores


def _quantise(rows: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows as 4-bit values, two to a byte (low nibble first), and one scale per block."""
    n, dim = rows.shape
    padded = np.zeros((n, blocks * _BLOCK), dtype=np.float32)
    padded[:, :dim] = rows
    values = padded.reshape(n, blocks, _BLOCK)
    scales = np.abs(values).max(axis=2) / _LEVELS
    scales[scales == 0] = 1.0
    levels = (np.clip(np.rint(values / scales[..., None]), -_LEVELS, _LEVELS) + _ZERO_POINT).astype(np.uint8)
    return levels[..., 0::2] | (levels[..., 1::2] << 4), scales


def _session(packed: np.ndarray, scales: np.ndarray, dim: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session computing ``float queries @ dequantised rows.T``. The rows
    are a constant of the graph, so ONNX Runtime packs them for its kernel once. They are
    handed over as an external initializer, which ONNX Runtime copies straight from this
    array (embedded in the model they would be held three times while the session loads)."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    n = packed.shape[0]
    rows = TensorProto(name="m", data_type=TensorProto.UINT8, dims=list(packed.shape), data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "m.bin"), ("offset", "0"), ("length", str(packed.nbytes))):
        entry = rows.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [
            helper.make_node(
                "MatMulNBits", ["q", "m", "scales"], ["s"], domain="com.microsoft",
                K=dim, N=n, bits=4, block_size=_BLOCK, accuracy_level=4,
            )
        ],
        "quantized_scan",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", n])],
        [rows, numpy_helper.from_array(scales, "scales")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    options = onnxruntime.SessionOptions()
    # One thread per pass: the server runs several searches at once, one per core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_external_initializers(["m"], [onnxruntime.OrtValue.ortvalue_from_numpy(packed)])
    return onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
