"""A BERT encoder's weights rewritten as a graph of ONNX Runtime's fused transformer operators.

The packaged all-MiniLM-L6-v2 was exported operator by operator (its attention alone is
some sixty nodes a layer: reshapes, transposes, the mask arithmetic), and ONNX Runtime's
own fusions do not recognise that export. On one short query the model then spends about
as long between its matrix products as in them. The same weights in ONNX Runtime's fused
operators (``EmbedLayerNormalization``, ``Attention``, ``BiasGelu``; 70 nodes instead of
450) compute the same vectors in about 0.7 of the time on batches of documents, and once
quantised the query encoder takes 2.0-2.1 ms of CPU where the packaged graph quantised as
it is took 2.7-2.9 (docs/PERFORMANCE.md).

Only the weights are read from the source graph: each matrix product's weight is found
through the bias added to its output, whose name says which layer and projection it is.
A graph without those names is refused with ``UnsupportedModel``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx


class UnsupportedModel(ValueError):
    """The source graph is not a BERT encoder with the parameter names this expects."""


_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
_MS = "com.microsoft"
# ONNX Runtime graph optimisations to disable in sessions running these graphs.
UNFUSED = ["SkipLayerNormFusion"]


def fused_bert(source: onnx.ModelProto, *, num_heads: int) -> onnx.ModelProto:
    """The encoder of ``source`` (inputs input_ids, attention_mask, token_type_ids; output
    last_hidden_state) as fused operators, float weights unchanged."""
    from onnx import TensorProto, helper, numpy_helper

    weights = _named_weights(source)
    prefix = next((n[: -len(_WORD_EMBEDDINGS)] for n in weights if n.endswith(_WORD_EMBEDDINGS)), None)
    if prefix is None:
        raise UnsupportedModel(f"no {_WORD_EMBEDDINGS} among the model's parameters")
    layer_name = re.compile(re.escape(prefix) + r"encoder\.layer\.(\d+)\.")
    layers = sorted({int(m.group(1)) for n in weights if (m := layer_name.match(n))})
    if layers != list(range(len(layers))) or not layers:
        raise UnsupportedModel(f"encoder layers {layers} are not numbered 0..n-1")
    epsilon = _layer_norm_epsilon(source)

    def w(name: str) -> np.ndarray:
        try:
            return weights[prefix + name]
        except KeyError:
            raise UnsupportedModel(f"the model has no parameter {prefix + name}") from None

    initializers: list[onnx.TensorProto] = []

    def constant(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def param(name: str) -> str:
        """A parameter of the source model, as a constant of the new graph under its name."""
        return constant(name, w(name))

    def add_and_norm(x: str, residual: str, block: str, out: str) -> list[onnx.NodeProto]:
        """``x`` plus the block's dense bias and the residual, through the block's LayerNorm."""
        return _residual_layer_norm(
            x,
            param(block + "dense.bias"),
            residual,
            param(block + "LayerNorm.weight"),
            param(block + "LayerNorm.bias"),
            out,
            epsilon,
        )

    # The fused operators take int32 ids and mask.
    nodes = [
        helper.make_node("Cast", [name], [name + "_int32"], to=TensorProto.INT32)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    nodes.append(
        helper.make_node(
            "EmbedLayerNormalization",
            [
                "input_ids_int32",
                "token_type_ids_int32",
                param(_WORD_EMBEDDINGS),
                param("embeddings.position_embeddings.weight"),
                param("embeddings.token_type_embeddings.weight"),
                param("embeddings.LayerNorm.weight"),
                param("embeddings.LayerNorm.bias"),
                "attention_mask_int32",
            ],
            # mask_index: each sequence's length, which assumes padding on the right (as
            # the tokenizer pads); attention then never reads the padding.
            ["hidden_0", "mask_index"],
            domain=_MS,
            epsilon=epsilon,
        )
    )
    hidden = "hidden_0"
    for i in layers:
        p = f"encoder.layer.{i}."
        qkv = [p + "attention.self." + x for x in ("query", "key", "value")]
        out = "last_hidden_state" if i == layers[-1] else f"hidden_{i + 1}"
        nodes += [
            helper.make_node(
                "Attention",
                [
                    hidden,
                    constant(p + "attention.self.qkv.weight", np.concatenate([w(x + ".weight") for x in qkv], axis=1)),
                    constant(p + "attention.self.qkv.bias", np.concatenate([w(x + ".bias") for x in qkv])),
                    "mask_index",
                ],
                [f"l{i}_context"],
                domain=_MS,
                num_heads=num_heads,
            ),
            helper.make_node("MatMul", [f"l{i}_context", param(p + "attention.output.dense.weight")], [f"l{i}_attn"]),
            *add_and_norm(f"l{i}_attn", hidden, p + "attention.output.", f"l{i}_attended"),
            helper.make_node("MatMul", [f"l{i}_attended", param(p + "intermediate.dense.weight")], [f"l{i}_ff_in"]),
            helper.make_node(
                "BiasGelu", [f"l{i}_ff_in", param(p + "intermediate.dense.bias")], [f"l{i}_ff_act"], domain=_MS
            ),
            helper.make_node("MatMul", [f"l{i}_ff_act", param(p + "output.dense.weight")], [f"l{i}_ff_out"]),
            *add_and_norm(f"l{i}_ff_out", f"l{i}_attended", p + "output.", out),
        ]
        hidden = out
    dim = w(_WORD_EMBEDDINGS).shape[1]
    graph = helper.make_graph(
        nodes,
        "bert_fused",
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(_MS, 1)])


def _residual_layer_norm(
    x: str, bias: str, residual: str, gamma: str, beta: str, out: str, epsilon: float
) -> list[onnx.NodeProto]:
    """``LayerNorm(x + bias + residual)`` as plain operators. ONNX Runtime's fused
    ``SkipLayerNormalization`` computes the same, but its kernel (1.32) took 34 µs a call on
    a short query against 7 µs for these three (docs/PERFORMANCE.md); sessions running
    this graph disable ONNX Runtime's fusion into it (``UNFUSED``)."""
    from onnx import helper

    return [
        helper.make_node("Add", [x, bias], [out + "_biased"]),
        helper.make_node("Add", [out + "_biased", residual], [out + "_summed"]),
        helper.make_node("LayerNormalization", [out + "_summed", gamma, beta], [out], axis=-1, epsilon=epsilon),
    ]


def _named_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every named parameter, plus each matrix product's weight under the name of the bias
    added to its output ("...query.bias" -> "...query.weight", as (in, out) matrices)."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    out = dict(values)
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in values:
            continue
        for add in readers.get(node.output[0], []):
            if add.op_type != "Add":
                continue
            bias = next((x for x in add.input if x in values and x.endswith(".bias")), None)
            if bias is not None:
                out[bias[: -len(".bias")] + ".weight"] = values[node.input[1]]
    return out


def _layer_norm_epsilon(model: onnx.ModelProto) -> float:
    for node in model.graph.node:
        if node.op_type == "LayerNormalization":
            return next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    raise UnsupportedModel("no LayerNormalization in the model")
