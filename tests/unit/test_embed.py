import subprocess
import sys

import numpy as np
import pytest

from vivim.embed import Embedder, MiniLMEmbedder, blob_to_vector, vector_to_blob
from vivim.embed.minilm import DIM, MODEL_ID


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_minilm_satisfies_the_embedder_interface(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == MODEL_ID == "all-MiniLM-L6-v2-onnx-int8"
    assert embedder.dim == DIM == 384


def test_vectors_have_one_unit_length_float32_row_per_text(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["A man is eating food.", "The girl is carrying a baby.", "Hi"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embedding_is_deterministic(embedder: MiniLMEmbedder) -> None:
    text = "I went to a LGBTQ support group yesterday and it was so powerful."
    np.testing.assert_array_equal(embedder.embed([text]), embedder.embed([text]))


def test_a_text_gets_the_same_vector_alone_or_padded_in_a_batch(embedder: MiniLMEmbedder) -> None:
    short = "A monkey is playing drums."
    long = "Someone in a gorilla costume is playing a set of drums at a very long outdoor festival. " * 3
    [alone] = embedder.embed([short])
    batched = embedder.embed([long, short, "x"])
    # Padding tokens must be masked out of the mean, or the short text's vector would drift.
    assert float(alone @ batched[1]) > 0.9999


def test_output_rows_follow_input_order_despite_length_sorting(embedder: MiniLMEmbedder) -> None:
    texts = ["a much longer sentence about riding a white horse on an enclosed ground", "cat", "dogs bark"]
    together = embedder.embed(texts)
    for i, text in enumerate(texts):
        assert float(together[i] @ embedder.embed([text])[0]) > 0.9999


def test_a_paraphrase_scores_higher_than_an_unrelated_sentence(embedder: MiniLMEmbedder) -> None:
    query = embedder.embed_query("A man is eating food.")
    close, far = embedder.embed(["A man is eating a piece of bread.", "A man is riding a horse."])
    assert float(query @ close) > float(query @ far) + 0.3


def test_similarity_matches_the_reference_model(embedder: MiniLMEmbedder) -> None:
    # The fp32 sentence-transformers model gives 0.7553 for this pair (its documented
    # example); int8 weights move it only slightly.
    a, b = embedder.embed(["A man is eating food.", "A man is eating a piece of bread."])
    assert abs(float(a @ b) - 0.7553) < 0.01


def test_empty_inputs_are_handled(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    empty = embedder.embed([""])
    assert empty.shape == (1, 384)
    assert abs(float(np.linalg.norm(empty[0])) - 1.0) < 1e-5


def test_text_past_the_token_limit_is_truncated_not_rejected(embedder: MiniLMEmbedder) -> None:
    head = "The quarterly report covers revenue and hiring. "
    long = head + "filler words keep going on and on " * 200
    vector = embedder.embed_query(long)
    assert vector.shape == (384,)
    assert float(vector @ embedder.embed_query(head + "filler words keep going on and on " * 100)) > 0.99


def test_importing_the_package_loads_no_model() -> None:
    code = "import sys, vivim.embed; print('onnxruntime' in sys.modules, 'tokenizers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_blob_round_trip_is_exact_little_endian_float32() -> None:
    vector = np.array([1.0, -0.5, 0.25, 3.0e-8], dtype=np.float32)
    blob = vector_to_blob(vector)
    assert blob[:4] == b"\x00\x00\x80\x3f"  # 1.0f little-endian
    assert len(blob) == 16
    np.testing.assert_array_equal(blob_to_vector(blob, 4), vector)


def test_blob_of_a_float64_vector_is_stored_as_float32() -> None:
    assert len(vector_to_blob(np.zeros(384, dtype=np.float64))) == 384 * 4


def test_blob_of_the_wrong_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        blob_to_vector(b"\x00" * 12, 4)
    with pytest.raises(ValueError):
        vector_to_blob(np.zeros((2, 2), dtype=np.float32))
