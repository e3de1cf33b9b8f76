"""Embeddings cached by (embedder, sha256 of the passage): unchanged text is never embedded twice."""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (embedder TEXT, hash TEXT, vec BLOB, PRIMARY KEY (embedder, hash))")

    def get_many(self, embedder: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        keys = list(dict.fromkeys(hashes))
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._db.execute(
                f"SELECT hash, vec FROM emb WHERE embedder=? AND hash IN ({','.join('?' * len(chunk))})", [embedder, *chunk]
            )
            for h, blob in rows:
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def count_known(self, embedder: str, hashes: Iterable[str]) -> int:
        """How many of the (distinct) hashes are cached, without reading their vectors."""
        keys, known = list(dict.fromkeys(hashes)), 0
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            row = self._db.execute(f"SELECT COUNT(*) FROM emb WHERE embedder=? AND hash IN ({','.join('?' * len(chunk))})", [embedder, *chunk])
            known += row.fetchone()[0]
        return known

    def put_many(self, embedder: str, items: dict[str, np.ndarray]) -> None:
        with self._db:  # one transaction per batch: a kill loses at most the batch in flight
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                [(embedder, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    def embed(
        self,
        embedder_name: str,
        texts: list[str],
        embed: Callable[[list[str]], np.ndarray],
        batch: int = 32,
        on_start: Callable[[int], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, computing only cache misses. Returns (vectors, number embedded)."""
        hashes = [text_hash(t) for t in texts]
        known = self.get_many(embedder_name, hashes)
        missing = list(dict.fromkeys(h for h in hashes if h not in known))
        by_hash = dict(zip(hashes, texts))
        if on_start:
            on_start(len(missing))
        for i in range(0, len(missing), batch):
            chunk = missing[i : i + batch]
            vectors = embed([by_hash[h] for h in chunk])
            fresh = dict(zip(chunk, vectors))
            self.put_many(embedder_name, fresh)
            known.update(fresh)
            if progress:
                progress(len(chunk))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.vstack([known[h] for h in hashes]), len(missing)

    def close(self) -> None:
        self._db.close()
