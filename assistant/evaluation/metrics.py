"""Metrics over answers (pure functions)."""
from __future__ import annotations

import re
import statistics

from assistant.evaluation.questions import EvalQuestion
from assistant.ingestion.text import fold
from assistant.models import Answer

_MARKER = re.compile(r"\[(\d+)\]")


def rank_of_gold(q: EvalQuestion, a: Answer) -> int | None:
    """1-based rank of the first citation that is gold (a gold clause, or the gold document). A gold
    clause written `doc::clause_id` must come from that document (knowledge bases of several files)."""
    for i, c in enumerate(a.citations, start=1):
        if q.gold_doc is not None and c.doc == q.gold_doc:
            return i
        if q.gold_clauses and (c.clause_id in q.gold_clauses or f"{c.doc}::{c.clause_id}" in q.gold_clauses):
            return i
    return None


def facts_present(q: EvalQuestion, a: Answer) -> bool:
    answer = fold(a.answer)
    return all(fold(f) in answer for f in q.facts)


def span_in_citations(q: EvalQuestion, a: Answer, k: int = 5) -> bool:
    gold = fold(q.gold_answer or "")
    return bool(gold) and any(gold in fold(c.text) for c in a.citations[:k])


def lead(a: Answer) -> str:
    """The answer's first line without its markers: the span a reader leads with, or the first quoted sentence."""
    return strip_markers(a.answer.strip().split("\n", 1)[0]).strip(" -")


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def cited_sentences(a: Answer) -> list[tuple[str, list[int]]]:
    """(sentence, the citation numbers it carries) for each marked piece of the answer."""
    out = []
    for piece in re.split(r"(?<=\])(?!\[)\s*|\n", a.answer):
        numbers = [int(n) for n in _MARKER.findall(piece)]
        sentence = strip_markers(piece).strip(" -\n")
        if numbers and sentence:
            out.append((sentence, numbers))
    return out


def supports(sentence: str, clause_text: str) -> bool:
    """Does the clause contain the sentence's substance? Quoted text trivially; otherwise its
    numbers must all appear and most of its character bigrams must."""
    s, t = fold(strip_markers(sentence)), fold(clause_text)
    core = re.sub(r"^[^：:]{0,30}[：:]", "", s)  # a lead-in like “配合单位是：”
    if not core or core in t or s in t:
        return True
    numbers = re.findall(r"\d+(?:\.\d+)?", core)
    if any(n not in t for n in numbers):
        return False
    grams = {core[i : i + 2] for i in range(len(core) - 1) if re.match(r"[\u3400-\u9fff]{2}", core[i : i + 2])}
    return bool(grams) and sum(g in t for g in grams) / len(grams) >= 0.6


def citation_precision(a: Answer) -> float | None:
    """Share of (sentence, cited clause) pairs where the clause supports the sentence."""
    by_n = {c.n: c for c in a.citations}
    pairs = [(s, by_n.get(n)) for s, ns in cited_sentences(a) for n in ns]
    if not pairs:
        return None
    return sum(1 for s, c in pairs if c is not None and supports(s, c.text)) / len(pairs)


def char_f1(prediction: str, gold: str) -> float:
    p, g = list(fold(strip_markers(prediction))), list(fold(gold))
    if not p or not g:
        return 0.0
    common = sum(min(p.count(ch), g.count(ch)) for ch in set(g))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, gold: str) -> float:
    """ROUGE-L F over characters (longest common subsequence)."""
    p, g = fold(strip_markers(prediction))[:2000], fold(gold)[:2000]
    if not p or not g:
        return 0.0
    previous = [0] * (len(g) + 1)
    for ch in p:
        current = [0]
        for j, gh in enumerate(g, start=1):
            current.append(previous[j - 1] + 1 if ch == gh else max(previous[j], current[j - 1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(g)
    return 2 * precision * recall / (precision + recall)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


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
        out["lead_facts"] = sum(not a.refused and all(fold(f) in fold(lead(a)) for f in q.facts) for q, a in with_facts) / len(with_facts)
    with_span = [(q, a) for q, a in answerable if q.gold_answer]
    if with_span:
        out["span@1"] = sum(span_in_citations(q, a, k=1) for q, a in with_span) / len(with_span)
        out["span@5"] = sum(span_in_citations(q, a) for q, a in with_span) / len(with_span)
        out["char_f1"] = statistics.fmean(char_f1(a.answer, q.gold_answer or "") for q, a in with_span)
        out["rouge_l"] = statistics.fmean(rouge_l(a.answer, q.gold_answer or "") for q, a in with_span)
        out["lead_rouge_l"] = statistics.fmean(0.0 if a.refused else rouge_l(lead(a), q.gold_answer or "") for q, a in with_span)
    precisions = [p for _, a in answerable if not a.refused and (p := citation_precision(a)) is not None]
    if precisions:
        out["citation_precision"] = statistics.fmean(precisions)
    if unanswerable:
        out["refusal_accuracy"] = sum(a.refused for _, a in unanswerable) / len(unanswerable)
    if answerable:
        out["false_refusal"] = sum(a.refused for _, a in answerable) / len(answerable)
    latencies = [a.latency_ms for _, a in pairs]
    if latencies:
        out["latency_p50_ms"] = percentile(latencies, 0.5)
        out["latency_p95_ms"] = percentile(latencies, 0.95)
    return out


def is_miss(q: EvalQuestion, a: Answer) -> bool:
    if not q.answerable:
        return not a.refused
    if a.refused or rank_of_gold(q, a) != 1:
        return True
    if q.facts and not facts_present(q, a):
        return True
    return bool(q.gold_answer) and not span_in_citations(q, a)
