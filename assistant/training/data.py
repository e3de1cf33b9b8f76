"""Training pairs for the reranker and the reader: (question, passage) with a relevance label and,
where the passage holds the answer, its character span.

Two sources. Benchmark questions whose answer is a verbatim span of a document (ncp-policy-qa's
format): the positive is every candidate window holding the span (a reprint in another document holds
the answer too), the negatives are the best-ranked windows of our own hybrid retrieval that do not.
And questions generated from a knowledge base's own structure (headings, responsible units, targets;
templates in templates.tsv), so that the models are not tied to one benchmark. Pure functions apart
from the searcher they are given."""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.answering.composer import measure_name
from assistant.ingestion.departments import COOP_LABELS, LEAD_LABELS
from assistant.ingestion.text import fold
from assistant.models import Clause
from assistant.retrieval.index import passage_text

TEMPLATES = Path(__file__).with_name("templates.tsv")
_BRACKET_END = "；;〕）)】］。"


class PairExample(BaseModel):
    group: str = Field(description="the question's id: its pairs are ranked against each other")
    question: str
    passage: str = Field(description="what the model reads: the window with its document title and heading (passage_text)")
    label: int = Field(description="1 when the passage holds the answer")
    span: tuple[int, int] | None = Field(None, description="the answer's character offsets in `passage`")
    source: str = "benchmark"
    rank: int | None = Field(None, description="its place in our hybrid retrieval's list (None: not retrieved)")


def fold_of(question: str, folds: int) -> int:
    """A stable fold for a question, by its text: the same split on every machine and run, and one an
    evaluation can find again from the question alone."""
    return int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % folds


def locate(passage: str, answer: str) -> tuple[int, int] | None:
    """The answer's offsets in the passage: verbatim, else after folding both (NFKC, no whitespace),
    mapped back to the passage's own characters."""
    i = passage.find(answer)
    if i >= 0:
        return i, i + len(answer)
    target = fold(answer)
    chars, where = [], []
    for k, ch in enumerate(passage):
        for c in unicodedata.normalize("NFKC", ch):
            if not c.isspace():
                chars.append(c)
                where.append(k)
    j = "".join(chars).find(target) if target else -1
    return (where[j], where[j + len(target) - 1] + 1) if j >= 0 else None


def _pair(group: str, question: str, window: Clause, title: str, answer: str | None, source: str, positive: bool, rank: int | None) -> PairExample:
    text = passage_text(window, title)
    span = locate(text, answer) if answer and positive else None
    return PairExample(group=group, question=question, passage=text, label=int(positive), span=span, source=source, rank=rank)


def holds(window: Clause, title: str, answer: str) -> bool:
    return locate(passage_text(window, title), answer) is not None


def pairs_for(
    group: str, question: str, answer: str | None, candidates: list[Clause], titles: dict[str, str], *,
    positives: list[Clause] | None = None, negatives: int = 7, hard: int = 5, rng: random.Random, source: str = "benchmark",
    extra: list[Clause] = (),
) -> list[PairExample]:
    """One question's pairs: its positives and up to `negatives` negatives, the `hard` best-ranked
    first, the rest drawn from lower ranks. Without `positives`, every candidate holding `answer` is
    one (a reprint in another document answers too), and `extra` windows that retrieval missed are
    added; with them (a generated question about one clause) only they are, and the clause's other
    windows are left out. Each pair records its place in `candidates` (the retrieval's order)."""
    strict = positives is not None
    place = {w.key: i for i, w in reversed(list(enumerate(candidates)))}
    candidates = list(candidates) + [w for w in extra if w.key not in place]  # answer windows retrieval missed
    chosen_positives = list(positives or [])
    own = {(w.doc, w.clause_id) for w in chosen_positives}
    seen = {w.key for w in chosen_positives}
    ranked_negatives: list[Clause] = []
    for window in candidates:
        if window.key in seen:
            continue
        seen.add(window.key)
        if strict:
            if (window.doc, window.clause_id) not in own:
                ranked_negatives.append(window)
        elif answer and holds(window, titles.get(window.doc, ""), answer):
            chosen_positives.append(window)
        else:
            ranked_negatives.append(window)
    if not chosen_positives:
        return []
    picked = ranked_negatives[:hard]
    rest = ranked_negatives[hard:]
    picked += rng.sample(rest, min(len(rest), max(0, negatives - len(picked))))
    return [_pair(group, question, w, titles.get(w.doc, ""), answer, source, True, place.get(w.key)) for w in chosen_positives] + [
        _pair(group, question, w, titles.get(w.doc, ""), None, source, False, place.get(w.key)) for w in picked
    ]


# ---------------------------------------------------------------- generated from structure

def templates(path: Path = TEMPLATES) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, template = line.split("\t")
            out.setdefault(kind, []).append(template)
    return out


def unit_span(text: str, labels: tuple[str, ...]) -> str | None:
    """The units after a 牵头单位： / 配合单位： label, as written, up to the next label or the bracket's end."""
    m = re.search(rf"(?:{'|'.join(labels)})\s*[:：]", text)
    if not m:
        return None
    rest = text[m.end() :]
    stop = min([i for i in (rest.find(ch) for ch in _BRACKET_END) if i >= 0] + [len(rest)])
    span = rest[:stop].strip()
    return span if 2 <= len(span) <= 80 else None


def structure_questions(clauses: list[Clause], indicators: list, titles: dict[str, str], rng: random.Random, limit: int) -> list[tuple[str, str, str | None, Clause]]:
    """(id, question, answer span or None, the window that answers) generated from headings, responsible
    units and targets; at most `limit`, drawn evenly over the kinds."""
    forms = templates()
    by_kind: dict[str, list[tuple[str, str, str | None, Clause]]] = {k: [] for k in forms}
    first_window = {}
    for c in clauses:
        first_window.setdefault((c.doc, c.clause_id), c)
    for c in first_window.values():
        name = measure_name(c)
        if c.kind in ("clause", "paragraph") and 4 <= len(name) <= 30 and c.heading_path:
            by_kind["heading"].append((name, None, c))
    for c in clauses:
        name = measure_name(c) if c.heading_path else ""
        if not 4 <= len(name) <= 30:
            continue
        for kind, labels in (("lead", LEAD_LABELS), ("coop", COOP_LABELS)):
            span = unit_span(c.text, labels)
            if span:
                by_kind[kind].append((name, span, c))
    windows = {(c.doc, c.clause_id): [w for w in clauses if (w.doc, w.clause_id) == (c.doc, c.clause_id)] for c in first_window.values()}
    for ind in indicators:
        value = f"{ind.value}{ind.unit}"
        holder = next((w for w in windows.get((ind.doc, ind.clause_id), []) if value in w.text), None)
        if holder is not None and 2 <= len(ind.indicator) <= 30:
            by_kind["target"].append((ind.indicator, value, holder))
    out = []
    kinds = [k for k in by_kind if by_kind[k]]
    for k in kinds:
        rng.shuffle(by_kind[k])
    share = max(1, limit // max(1, len(kinds)))
    for kind in kinds:
        for i, (name, span, window) in enumerate(by_kind[kind][:share]):
            question = rng.choice(forms[kind]).format(name=name)
            ident = hashlib.sha256(f"{kind}:{window.key}:{question}".encode()).hexdigest()[:16]
            out.append((f"gen-{ident}", question, span, window))
    return out[:limit]


# ---------------------------------------------------------------- from a knowledge base

def _windows_by_doc(clauses: list[Clause]) -> dict[str, list[Clause]]:
    out: dict[str, list[Clause]] = {}
    for c in clauses:
        out.setdefault(c.doc, []).append(c)
    return out


def benchmark_examples(searcher, questions: list, rng: random.Random, candidates: int = 20, negatives: int = 7, hard: int = 5) -> list[PairExample]:
    """Pairs for span-format questions (`gold_doc`, `gold_answer`) against our own hybrid retrieval."""
    index = searcher.index
    titles = {d: m.title for d, m in index.docs.items()}
    by_doc = _windows_by_doc(index.clauses)
    out: list[PairExample] = []
    for q in questions:
        gold = [w for w in by_doc.get(q.gold_doc, []) if holds(w, titles.get(w.doc, ""), q.gold_answer)]
        ranked = [h.passage or h.clause for h in searcher.search(q.question, k=candidates)]
        out += pairs_for(q.id, q.question, q.gold_answer, ranked, titles, negatives=negatives, hard=hard, rng=rng, extra=gold)
    return out


def generated_examples(searcher, rng: random.Random, limit: int, candidates: int = 20, negatives: int = 7, hard: int = 5) -> list[PairExample]:
    """Pairs for questions generated from the knowledge base's structure (templates.tsv)."""
    index = searcher.index
    titles = {d: m.title for d, m in index.docs.items()}
    out: list[PairExample] = []
    for group, question, span, window in structure_questions(index.clauses, index.indicators, titles, rng, limit):
        ranked = [h.passage or h.clause for h in searcher.search(question, k=candidates)]
        out += pairs_for(group, question, span, ranked, titles, positives=[window], negatives=negatives, hard=hard, rng=rng, source="generated")
    return out
