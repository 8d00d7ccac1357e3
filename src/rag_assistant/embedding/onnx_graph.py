"""Build an ONNX graph of a BERT encoder straight from its safetensors weights.

Why not `torch.onnx.export`: it needs torch, and on a user's Linux machine a plain
`pip install torch` pulls a multi-GB CUDA build. The BERT encoder is a short, fixed
sequence of standard ONNX operators, so we write the graph ourselves with the `onnx`
package and load the weights with `safetensors.numpy`. tests/test_embedding.py checks the
result against sentence-transformers' own vectors (cosine >= 0.99; measured 1.0000).

Inputs: input_ids, attention_mask, token_type_ids (int64, [batch, sequence]).
Output: last_hidden_state (float32, [batch, sequence, hidden]); pooling stays in numpy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the graph changes, so cached builds are not reused.
GRAPH_VERSION = 1


def build_bert_onnx(model_dir: Path, out_path: Path) -> Path:
    """Write the ONNX graph for the BERT model in `model_dir` (config.json + model.safetensors)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir} is not a BERT model with GELU activations")
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    weights = load_file(str(model_dir / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def scalar(name: str, value: float) -> str:
        return const(name, np.array(value, dtype=np.float32))

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = f"{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def weight(name: str) -> np.ndarray:
        return weights[prefix + name]

    def linear(x: str, name: str) -> str:
        w = const(f"{name}.weight_t", weight(f"{name}.weight").T)
        return op("Add", [op("MatMul", [x, w]), const(f"{name}.bias", weight(f"{name}.bias"))])

    def layer_norm(x: str, name: str) -> str:
        gamma = const(f"{name}.weight", weight(f"{name}.weight"))
        beta = const(f"{name}.bias", weight(f"{name}.bias"))
        return op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    # Embeddings: word + position (first `sequence` rows) + token type, then LayerNorm.
    word = const("word_embeddings", weight("embeddings.word_embeddings.weight"))
    position = const("position_embeddings", weight("embeddings.position_embeddings.weight"))
    token_type = const("token_type_embeddings", weight("embeddings.token_type_embeddings.weight"))
    sequence = op("Shape", ["input_ids"], start=1, end=2)
    zero = const("zero", np.array([0], dtype=np.int64))
    positions = op("Slice", [position, zero, sequence, zero])
    x = op("Add", [op("Gather", [word, "input_ids"]), positions])
    x = op("Add", [x, op("Gather", [token_type, "token_type_ids"])])
    x = layer_norm(x, "embeddings.LayerNorm")

    # Additive attention mask [batch, 1, 1, sequence]: 0 where attended, -10000 on padding.
    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = op("Unsqueeze", [mask, const("axes_1_2", np.array([1, 2], dtype=np.int64))])
    mask_bias = op("Mul", [op("Sub", [scalar("one", 1.0), mask]), scalar("neg_inf", -10000.0)])

    head_dim = hidden // heads
    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = scalar("scale", 1.0 / float(np.sqrt(head_dim)))
    half, sqrt2, one = scalar("half", 0.5), scalar("sqrt2", float(np.sqrt(2.0))), "one"

    for i in range(layers):
        name = f"encoder.layer.{i}"

        def heads_of(t: str) -> str:
            return op("Transpose", [op("Reshape", [t, split_heads])], perm=[0, 2, 1, 3])

        q = heads_of(linear(x, f"{name}.attention.self.query"))
        k = heads_of(linear(x, f"{name}.attention.self.key"))
        v = heads_of(linear(x, f"{name}.attention.self.value"))
        scores = op("MatMul", [q, op("Transpose", [k], perm=[0, 1, 3, 2])])
        scores = op("Add", [op("Mul", [scores, scale]), mask_bias])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = op("Add", [linear(context, f"{name}.attention.output.dense"), x])
        x = layer_norm(attended, f"{name}.attention.output.LayerNorm")

        h = linear(x, f"{name}.intermediate.dense")
        # Exact GELU, as BERT was trained: 0.5 * h * (1 + erf(h / sqrt(2))).
        gelu = op("Mul", [op("Mul", [h, half]), op("Add", [op("Erf", [op("Div", [h, sqrt2])]), one])])
        x = layer_norm(op("Add", [linear(gelu, f"{name}.output.dense"), x]), f"{name}.output.LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes,
        "bert_encoder",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    onnx.checker.check_model(model, full_check=False)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out_path)  # atomic: a concurrent reader sees the old file or the whole new one
    return out_path
