"""BM25 over jieba tokens (bm25s), with clause texts prefixed by their document title and heading."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from assistant.retrieval.tokenize import Tokenizer, expand_query


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import: its chatter is not our users'
    return bm25s


class LexicalIndex:
    def __init__(self, tokenizer: Tokenizer, retriever, size: int) -> None:
        self.tokenizer = tokenizer
        self.retriever = retriever
        self.size = size

    @classmethod
    def build(cls, passages: list[str], tokenizer: Tokenizer) -> "LexicalIndex":
        retriever = _bm25s().BM25(k1=1.2, b=0.75)  # tuned on the ncp-policy-qa benchmark (0.9/0.4 and 1.5/0.5 did no better)
        corpus = [tokenizer.index_tokens(p) or ["∅"] for p in passages]
        retriever.index(corpus, show_progress=False)
        return cls(tokenizer, retriever, len(passages))

    def save(self, directory: Path) -> None:
        self.retriever.save(str(directory), show_progress=False)
        (directory / "size.json").write_text(json.dumps({"size": self.size}), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, tokenizer: Tokenizer) -> "LexicalIndex":
        retriever = _bm25s().BM25.load(str(directory), show_progress=False)
        size = json.loads((directory / "size.json").read_text(encoding="utf-8"))["size"]
        return cls(tokenizer, retriever, size)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage, in index order (zeros when no query term is known)."""
        query = expand_query(query, self.tokenizer.synonyms)
        tokens = [t for t in self.tokenizer.index_tokens(query) if t in self.retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token the corpus never uses weighs like a rare one."""
        if not hasattr(self, "_df"):
            self._df = np.diff(self.retriever.scores["indptr"])
        position = self.retriever.vocab_dict.get(token)
        df = int(self._df[position]) if position is not None and position < len(self._df) else 0
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    def known(self, token: str) -> bool:
        return token in self.retriever.vocab_dict
