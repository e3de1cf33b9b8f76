"""Hybrid retrieval: BM25, clause vectors and sentence vectors fused per clause, then lifted by how
well the clause's document matches as a whole. Windows of one clause collapse into one hit."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assistant.models import Clause
from assistant.retrieval.index import KnowledgeIndex

log = logging.getLogger(__name__)


class Hit(BaseModel):
    model_config = ConfigDict(frozen=True)

    clause: Clause
    score: float
    lexical: float = 0.0
    dense: float = 0.0
    sentence: float = Field(0.0, description="normalised match of the clause's best sentence vector")
    similarity: float = Field(0.0, description="raw cosine similarity of the dense match (0 when not among the candidates)")
    passage: Clause | None = Field(None, description="the sentence window of the clause that ranked it (the clause itself when whole)")
    rerank: float | None = Field(None, description="the reranker's relevance logit (None: not reranked)")


class FusionWeights(BaseModel):
    """Tuned on the ncp-policy-qa benchmark (599 documents) and checked on the plan's dev set."""

    lexical: float = 0.7
    dense: float = 0.2
    sentence: float = 0.4  # the clause's best-matching sentence: a question usually paraphrases one
    document: float = 1.0  # BM25 of the clause's whole document: where a question's place and subject meet
    dense_candidates: int = 200


class HybridSearcher:
    """Typed search over one KnowledgeIndex. Configuration in __init__, queries in `search`."""

    def __init__(self, index: KnowledgeIndex, lexical, weights: FusionWeights | None = None, documents=None, reranker=None) -> None:
        self.index = index
        self.reranker = reranker  # assistant/retrieval/rerank.py; None: the fused order stands
        self.titles = {d: m.title for d, m in index.docs.items()}
        self.lexical = lexical
        self.documents = documents  # document-level BM25, rows in sorted doc-name order
        self.weights = weights or FusionWeights()
        self.position = {c.key: i for i, c in enumerate(index.clauses)}
        doc_number = {d: i for i, d in enumerate(sorted({c.doc for c in index.clauses}))}
        self.doc_ids = np.array([doc_number[c.doc] for c in index.clauses], dtype=np.int64)
        self.n_docs = len(doc_number)
        self._masks: dict[str, np.ndarray] = {}
        self._local = threading.local()  # the web app answers several questions at once on one searcher

    @property
    def dense_error(self) -> str | None:
        """Why this thread's last dense search failed (None when it worked)."""
        return getattr(self._local, "dense_error", None)

    @dense_error.setter
    def dense_error(self, value: str | None) -> None:
        self._local.dense_error = value

    def _dense_vector(self, query: str, where: dict | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(clause scores, sentence scores, raw clause cosine similarities) over all clauses; the
        scores are normalised to [0, 1] over the candidates."""
        n = len(self.index.clauses)
        clause_scores, sentence_scores, raw = (np.zeros(n, dtype=np.float32) for _ in range(3))
        if not self.index.clauses or (self.weights.dense <= 0 and self.weights.sentence <= 0):
            return clause_scores, sentence_scores, raw
        k = self.weights.dense_candidates
        try:
            clause_hits = self.index.dense_search(query, k=k, where=where) if self.weights.dense > 0 else []
            sentence_hits = self.index.sentence_search(query, k=k, where=where) if self.weights.sentence > 0 else []
            self.dense_error = None
        except Exception as exc:  # a Chroma server down or unreachable: keep answering lexically
            self.dense_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning("dense search unavailable, lexical only: %s", self.dense_error)
            return clause_scores, sentence_scores, raw
        self._spread(clause_hits, clause_scores, raw)
        self._spread(sentence_hits, sentence_scores)
        return clause_scores, sentence_scores, raw

    def _spread(self, hits: list[tuple[Clause, float]], scores: np.ndarray, raw: np.ndarray | None = None) -> None:
        """Similarities into `scores` scaled so the weakest candidate is 0 and the best 1: cosine
        values of e5 sit in a narrow band, so raw values would barely move the fusion."""
        if not hits:
            return
        sims = np.array([s for _, s in hits], dtype=np.float32)
        floor = float(sims.min()) if len(sims) > 1 else 0.0
        span = max(float(sims.max()) - floor, 1e-6)
        for clause, sim in hits:
            scores[self.position[clause.key]] = (sim - floor) / span
            if raw is not None:
                raw[self.position[clause.key]] = sim

    def scores(self, query: str, where: dict | None = None, mask: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(fused, lexical, dense, sentence, raw similarity) arrays over all clauses; lexical, dense
        and sentence are normalised to [0, 1]."""
        lex = self.lexical.scores(query) if self.weights.lexical > 0 else np.zeros(len(self.index.clauses), dtype=np.float32)
        if mask is not None:
            lex = np.where(mask, lex, 0.0)
        top = float(lex.max()) if len(lex) else 0.0
        lex_n = lex / top if top > 0 else lex
        dense_n, sentence_n, raw = self._dense_vector(query, where)
        if mask is not None:
            dense_n = np.where(mask, dense_n, 0.0)
            sentence_n = np.where(mask, sentence_n, 0.0)
        fused = self.weights.lexical * lex_n + self.weights.dense * dense_n + self.weights.sentence * sentence_n
        if self.n_docs > 1 and self.weights.document > 0 and self.documents is not None:
            doc = self.documents.scores(query)
            top_doc = float(doc.max()) if len(doc) else 0.0
            if top_doc > 0:
                fused = fused + self.weights.document * (doc / top_doc)[self.doc_ids]
        return fused, lex_n, dense_n, sentence_n, raw

    def _mask(self, keep: Callable[[Clause], bool], name: str | None) -> np.ndarray:
        """The filter as a boolean array; a named filter is computed once per build."""
        if name is not None and name in self._masks:
            return self._masks[name]
        mask = np.fromiter((keep(c) for c in self.index.clauses), dtype=bool, count=len(self.index.clauses))
        if name is not None:
            self._masks[name] = mask
        return mask

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        where: dict | None = None,
        keep: Callable[[Clause], bool] | None = None,
        keep_name: str | None = None,
    ) -> list[Hit]:
        """Top-k whole clauses for the query; `where` is a Chroma metadata filter, `keep` the same
        condition for the lexical side."""
        if not self.index.clauses or not query.strip():
            return []
        mask = self._mask(keep, keep_name) if keep is not None else None
        fused, lex, dense, sentence, raw = self.scores(query, where, mask)
        if mask is not None:
            fused = np.where(mask, fused, -1.0)
        hits: list[Hit] = []
        seen: set[tuple[str, str]] = set()
        want = max(k, self.reranker.top_k) if self.reranker is not None else k
        for i in _best_first(fused, want=max(want * 20, 200)):
            if fused[i] <= 0:
                break
            clause = self.index.clauses[i]
            ident = (clause.doc, clause.clause_id)
            if ident in seen:
                continue
            seen.add(ident)
            hits.append(
                Hit(
                    clause=self.index.whole(clause),
                    score=float(fused[i]),
                    lexical=float(lex[i]),
                    dense=float(dense[i]),
                    sentence=float(sentence[i]),
                    similarity=float(raw[i]),
                    passage=clause,
                )
            )
            if len(hits) >= want:
                break
        if self.reranker is not None:
            hits = self.reranker.run(query, hits, self.titles)
        return hits[:k]


def _best_first(scores: np.ndarray, want: int):
    """Indices by descending score: the top `want` found by partition (a full sort of a large corpus
    costs tens of milliseconds), the rest only if the caller reads that far."""
    if len(scores) <= want * 4:
        yield from np.argsort(-scores, kind="stable")
        return
    threshold = scores[np.argpartition(-scores, want)[want]]
    top = np.flatnonzero(scores >= threshold)  # ties at the threshold all in: the same order as a stable sort
    yield from top[np.argsort(-scores[top], kind="stable")]
    rest = np.flatnonzero(scores < threshold)
    yield from rest[np.argsort(-scores[rest], kind="stable")]
