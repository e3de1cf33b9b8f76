"""Metrics over answers (pure functions)."""
from __future__ import annotations

import statistics

from assistant.evaluation.questions import EvalQuestion
from assistant.ingestion.text import fold
from assistant.models import Answer


def rank_of_gold(q: EvalQuestion, a: Answer) -> int | None:
    """1-based rank of the first citation that is gold (a gold clause, or the gold document)."""
    for i, c in enumerate(a.citations, start=1):
        if q.gold_doc is not None and c.doc == q.gold_doc:
            return i
        if q.gold_clauses and c.clause_id in q.gold_clauses:
            return i
    return None


def facts_present(q: EvalQuestion, a: Answer) -> bool:
    answer = fold(a.answer)
    return all(fold(f) in answer for f in q.facts)


def span_in_citations(q: EvalQuestion, a: Answer, k: int = 5) -> bool:
    gold = fold(q.gold_answer or "")
    return bool(gold) and any(gold in fold(c.text) for c in a.citations[:k])


def summarize(pairs: list[tuple[EvalQuestion, Answer]]) -> dict[str, float]:
    answerable = [(q, a) for q, a in pairs if q.answerable]
    unanswerable = [(q, a) for q, a in pairs if not q.answerable]
    ranked = [(q, a) for q, a in answerable if q.gold_clauses or q.gold_doc]
    ranks = [rank_of_gold(q, a) for q, a in ranked]
    out: dict[str, float] = {"questions": len(pairs)}
    if ranked:
        for k in (1, 3, 5):
            out[f"hit@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / len(ranked)
        out["mrr"] = sum(1 / r for r in ranks if r) / len(ranked)
    with_facts = [(q, a) for q, a in answerable if q.facts]
    if with_facts:
        out["facts"] = sum(facts_present(q, a) for q, a in with_facts) / len(with_facts)
    with_span = [(q, a) for q, a in answerable if q.gold_answer]
    if with_span:
        out["span@5"] = sum(span_in_citations(q, a) for q, a in with_span) / len(with_span)
    if unanswerable:
        out["refusal_accuracy"] = sum(a.refused for _, a in unanswerable) / len(unanswerable)
    if answerable:
        out["false_refusal"] = sum(a.refused for _, a in answerable) / len(answerable)
    latencies = sorted(a.latency_ms for _, a in pairs)
    if latencies:
        out["latency_p50_ms"] = statistics.median(latencies)
        out["latency_p95_ms"] = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    return out
