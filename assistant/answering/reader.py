"""The span reader: the shortest stretch of the best clauses that answers the question (a date, an
amount, who, what), read by the trained pair model's start/end head. The answer leads with it, cited,
and the supporting sentences follow. Only the clause's own text can be a span (never the title the
model also reads), so the quote is always in the clause it cites."""
from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.models import Clause
from assistant.retrieval.hybrid import Hit
from assistant.retrieval.index import passage_text
from assistant.retrieval.pair_model import PairModel, best_span

READ_TOP = 2  # the best clauses read; the span of the best-ranked wins unless another's is clearly better
RANK_MARGIN = 1.0  # what a lower-ranked clause's span must beat the top one's by


class Span(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    clause: Clause  # the whole clause it is quoted from
    score: float  # start + end logit over "no answer here"
    rank: int  # which hit (0-based) it comes from


class Reader:
    def __init__(self, model: PairModel, min_score: float = 0.0, top: int = READ_TOP) -> None:
        self.model = model
        self.min_score = min_score
        self.top = top

    def read(self, question: str, hits: list[Hit], titles: dict[str, str]) -> Span | None:
        """The best span of the top hits' windows, or None when none scores `min_score` over "no answer"."""
        windows = [h.passage or h.clause for h in hits[: self.top]]
        if not windows or not question.strip():
            return None
        passages = [passage_text(w, titles.get(w.doc, "")) for w in windows]
        out = self.model.run(question, passages)
        best: Span | None = None
        for rank, (window, passage, logits, offsets) in enumerate(zip(windows, passages, out.span, out.offsets)):
            body = len(passage) - len(window.text)  # the title and heading come first; only the clause text can be quoted
            own = [(a, b) if a >= body else (-1, -1) for a, b in offsets]
            where, score = best_span(logits, own, self.model.spec.max_answer_tokens)
            if where is None:
                continue
            text = passage[where[0] : where[1]].strip()
            if not text or score < self.min_score:
                continue
            candidate = Span(text=text, clause=hits[rank].clause, score=score, rank=rank)
            if best is None or score > best.score + RANK_MARGIN:
                best = candidate
        return best


_cache: dict[tuple, Reader] = {}
_lock = threading.Lock()


def reader_for(weights: Path | None, models_dir: Path, min_score: float, threads: int) -> Reader | None:
    """One reader per weights file and setting; None when reading is off or the weights are missing."""
    if weights is None or not Path(weights).exists():
        return None
    key = (str(Path(weights).resolve()), str(models_dir), min_score, threads)
    with _lock:
        if key not in _cache:
            _cache[key] = Reader(PairModel(Path(weights), models_dir, threads=threads), min_score=min_score)
        return _cache[key]
