"""Extractive answers: the direct answer first, every sentence quoted from a clause with [n]."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from assistant.answering.lexicon import pattern
from assistant.ingestion.text import split_sentences
from assistant.models import Citation, Clause


@dataclass
class Draft:
    """An answer being written: its lines and the clauses they cite, numbered on first use."""

    lines: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    doc_titles: dict[str, str] = field(default_factory=dict)

    def cite(self, clause: Clause, score: float = 0.0, quote: str | None = None) -> int:
        for c in self.citations:
            if c.doc == clause.doc and c.clause_id == clause.clause_id:
                if quote and quote not in c.quotes:
                    c.quotes.append(quote)
                return c.n
        n = len(self.citations) + 1
        self.citations.append(
            Citation(
                n=n, doc=clause.doc, clause_id=clause.clause_id, title=clause.title, text=clause.text, score=round(float(score), 4),
                doc_title=self.doc_titles.get(clause.doc, ""), quotes=[quote] if quote else [],
            )
        )
        return n

    def text(self) -> str:
        return "\n".join(self.lines)


def measure_name(clause: Clause) -> str:
    """`5. 推进人才培养群英计划` → 推进人才培养群英计划."""
    label = clause.heading_path[-1] if clause.heading_path else clause.clause_id
    return pattern("list_numbering").sub("", label)


def sentences_of(clause: Clause) -> list[str]:
    return [clause.text[a:b] for a, b in split_sentences(clause.text)]


def token_weights(tokens: list[str], idf) -> dict[str, float]:
    return {t: idf(t) for t in dict.fromkeys(tokens)}


def sentence_score(sentence: str, weights: dict[str, float]) -> float:
    """Weighted share of the question's words in the sentence. A long word the sentence does not
    contain whole earns the share of its character bigrams it does contain: 技能人才 is partly in
    高技能领军人才, 博士后工作站 in 博士后科研工作站."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w * share(t, sentence) for t, w in weights.items()) / total


def char_bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def share(word: str, sentence: str) -> float:
    if word in sentence:
        return 1.0
    if len(word) < 3:
        return 0.0
    grams = char_bigrams(word)
    return sum(g in sentence for g in grams) / len(grams)


def pick_sentences(
    ranked: list[tuple[Clause, float]], weights: dict[str, float], limit: int, per_clause: int = 2, spread: int = 3
) -> list[tuple[Clause, float, str, float]]:
    """The most query-like sentences of the top clauses: (clause, clause score, sentence, score),
    best first; a clause's rank adds a little so ties go to the better clause."""
    candidates = []
    top_score = max((score for _, score in ranked[:1]), default=1.0) or 1.0
    for rank, (clause, score) in enumerate(ranked[:spread]):
        sentences = sentences_of(clause)
        label = clause.heading_path[-1] if clause.heading_path else ""
        for position, sentence in enumerate(sentences):
            if len(pattern("non_word").sub("", sentence)) < 4:
                continue
            if len(sentences) > 1 and label and sentence.rstrip("。") == label:
                continue  # a heading alone says nothing the rest of the clause does not
            relevance = sentence_score(sentence, weights) * (0.6 + 0.4 * min(1.0, score / top_score))
            candidates.append((clause, score, sentence, relevance + 0.1 * (1 - rank / spread) - 0.002 * position))
    candidates.sort(key=lambda x: -x[3])
    if not candidates:
        return []
    best = candidates[0][3]
    chosen, per = [], {}
    for clause, score, sentence, s in candidates:
        if len(chosen) >= limit or s < 0.5 * best:
            break
        key = (clause.doc, clause.clause_id)
        if per.get(key, 0) >= per_clause:
            continue
        per[key] = per.get(key, 0) + 1
        chosen.append((clause, score, sentence, s))
    return chosen


def idf_from(df: dict[str, int], n_docs: int):
    def idf(token: str) -> float:
        return math.log(1 + (n_docs - df.get(token, 0) + 0.5) / (df.get(token, 0) + 0.5))

    return idf


def bigram_similarity(a: str, b: str) -> float:
    """Dice overlap of character bigrams, for matching a question's words to a short name."""
    clean = lambda s: pattern("name_noise").sub("", s)
    a, b = clean(a), clean(b)
    grams = lambda s: char_bigrams(s) or ({s} if s else set())
    x, y = grams(a), grams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def measure_line(clause: Clause) -> str:
    """`关键技术“突破”行动（四.(四).16）：大力实施祖冲之自主可控产业技术攻关计划…` with the
    programme names the measure puts in quotes."""
    from assistant.retrieval.tokenize import quoted_terms

    body = pattern("first_sentence").sub("", clause.text, count=1)
    body = pattern("responsibility_tail").sub("", body).strip()
    snippet = body[:46].rstrip("，,、；;") + ("…" if len(body) > 46 else "")
    names = [t for t in quoted_terms([body]) if t not in snippet and "“" not in t and "‘" not in t][:4]
    extra = f"（涉及：{'、'.join(names)}）" if names else ""
    return f"{measure_name(clause)}（{clause.clause_id}）：{snippet}{extra}"


def responsibility_text(clause: Clause) -> str:
    """The bracket that names a measure's units, as written."""
    from assistant.ingestion.departments import find_responsibility

    _, _, span = find_responsibility(clause.text)
    return clause.text[span[0] : span[1]] if span else ""
