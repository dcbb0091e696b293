"""The first stage of big vector scans: every vector as int8, scored by an integer matrix product.

A scan of 100,000 float32 vectors reads 150 MB per query; as int8 (one scale per
dimension) it reads a quarter of that, and ONNX Runtime's integer matrix product
(``MatMulInteger``, the kernel its quantised models run on, with VNNI where the CPU has
it) scores it about seven times faster than BLAS scores the float vectors. Rounding to
256 levels moves a cosine by about 0.003, so the exact best rows are all among the int8
scan's best few hundred, which the caller then scores exactly (vivim.search.vectors).

Queries that arrive together share a pass: reading the matrix is what a pass costs, and
one pass scores several queries (a matrix product instead of a matrix-vector one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

# Rows quantised per step while building, to bound the float temporaries.
_BUILD_CHUNK = 16_384
# The query is quantised to uint8 around this zero point (MatMulInteger multiplies
# unsigned activations by signed weights, as the CPU's int8 instructions do).
_QUERY_ZERO_POINT = 128


class Int8Scan:
    """Approximate dot products of queries with every row of a float matrix."""

    def __init__(self, matrix: np.ndarray) -> None:
        n, dim = matrix.shape
        peak = np.zeros(dim, dtype=np.float32)
        for start in range(0, n, _BUILD_CHUNK):
            np.maximum(peak, np.abs(matrix[start : start + _BUILD_CHUNK]).max(axis=0), out=peak)
        # Row i is approximately scale * quantised[i], dimension by dimension.
        self.scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        transposed = np.empty((dim, n), dtype=np.int8)  # the layout MatMulInteger's B wants
        for start in range(0, n, _BUILD_CHUNK):
            block = np.rint(matrix[start : start + _BUILD_CHUNK] / self.scale)
            transposed[:, start : start + _BUILD_CHUNK] = np.clip(block, -127, 127).T
        self.dim = dim
        self._session = _session(transposed)
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._running = False

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """float32 (n,): approximately ``matrix @ vector``. A query that arrives while a
        pass runs waits for it and is scored, with every other query that arrived
        meanwhile, in the next pass; a lone query runs at once."""
        job = _Job(np.asarray(vector, dtype=np.float32))
        with self._cond:
            self._pending.append(job)
            while not job.done:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                batch, self._pending = self._pending, []
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _run(self, batch: list[_Job]) -> None:
        try:
            queries = np.stack([job.vector for job in batch])
            if queries.shape[1] != self.dim:
                raise ValueError(f"a query of {queries.shape[1]} dimensions for vectors of {self.dim}")
            queries *= self.scale  # the matrix's scales folded into the query
            step = np.abs(queries).max(axis=1, keepdims=True) / 127.0
            step[step == 0] = 1.0
            quantised = (np.rint(queries / step) + _QUERY_ZERO_POINT).astype(np.uint8)
            products = self._session.run(None, {"q": quantised})[0]  # int32 (batch, n)
            for i, job in enumerate(batch):
                job.result = np.multiply(products[i], step[i, 0], dtype=np.float32)
        except BaseException as exc:  # every waiter gets the error, not just this thread
            for job in batch:
                job.error = exc
        finally:
            for job in batch:
                job.done = True


@dataclass
class _Job:
    vector: np.ndarray
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


def _session(transposed: np.ndarray) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session computing ``uint8 queries @ transposed`` as int32. The
    matrix is a constant of the graph, so ONNX Runtime packs it for its kernel once. It is
    handed over as an external initializer, which ONNX Runtime copies straight from this
    array (embedded in the model it would be held three times while the session loads)."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    dim, n = transposed.shape
    matrix = TensorProto(name="m", data_type=TensorProto.INT8, dims=[dim, n], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "m.bin"), ("offset", "0"), ("length", str(transposed.nbytes))):
        entry = matrix.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["q", "m", "q_zero"], ["s"])],
        "int8_scan",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, ["batch", dim])],
        [helper.make_tensor_value_info("s", TensorProto.INT32, ["batch", n])],
        [matrix, numpy_helper.from_array(np.array(_QUERY_ZERO_POINT, dtype=np.uint8), "q_zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    # One thread per pass: the server runs several searches at once, one per core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_external_initializers(["m"], [onnxruntime.OrtValue.ortvalue_from_numpy(transposed)])
    return onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
