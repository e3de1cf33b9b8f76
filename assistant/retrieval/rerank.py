"""The cross-encoder reranker: the hybrid's best clauses read together with the question by the trained
pair model, and reordered by the hybrid score plus `weight` × its relevance logit (both signals count:
the hybrid knows the whole corpus, the reranker reads the question and the passage together).

Scores are cached per (question, passage), so the several searches one answer makes cost one run."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from assistant.retrieval.hybrid import Hit
from assistant.retrieval.index import passage_text
from assistant.retrieval.pair_model import PairModel

CACHE = 4096


class Reranker:
    def __init__(self, model: PairModel, top_k: int = 10, weight: float = 0.3) -> None:
        self.model = model
        self.top_k = top_k
        self.weight = weight
        self._scores: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def logits(self, query: str, passages: dict[str, str]) -> dict[str, float]:
        """Relevance logit per passage key; runs the model only on the pairs not scored before."""
        with self._lock:
            known = {k: self._scores[(query, k)] for k in passages if (query, k) in self._scores}
        missing = [k for k in passages if k not in known]
        if missing:
            out = self.model.run(query, [passages[k] for k in missing])
            with self._lock:
                for k, logit in zip(missing, out.rank):
                    self._scores[(query, k)] = known[k] = logit
                while len(self._scores) > CACHE:
                    self._scores.popitem(last=False)
        return known

    def run(self, query: str, hits: list[Hit], titles: dict[str, str]) -> list[Hit]:
        """The first `top_k` hits reordered by hybrid score + weight × logit; the rest keep their order after them."""
        head, tail = hits[: self.top_k], hits[self.top_k :]
        if len(head) < 2:
            return hits
        passages = {}
        for h in head:
            window = h.passage or h.clause
            passages[window.key] = passage_text(window, titles.get(window.doc, ""))
        logits = self.logits(query, passages)
        rescored = [h.model_copy(update={"rerank": logits[(h.passage or h.clause).key],
                                         "score": h.score + self.weight * logits[(h.passage or h.clause).key]}) for h in head]
        rescored.sort(key=lambda h: -h.score)
        return rescored + tail


_cache: dict[tuple, Reranker] = {}
_lock = threading.Lock()


def reranker_for(weights: Path | None, models_dir: Path, top_k: int, weight: float, threads: int) -> Reranker | None:
    """One reranker per weights file and setting, shared by every searcher of the process; None when
    reranking is off or the weights are missing."""
    if weights is None or not Path(weights).exists() or top_k < 2:
        return None
    key = (str(Path(weights).resolve()), str(models_dir), top_k, weight, threads)
    with _lock:
        if key not in _cache:
            _cache[key] = Reranker(PairModel(Path(weights), models_dir, threads=threads), top_k=top_k, weight=weight)
        return _cache[key]
