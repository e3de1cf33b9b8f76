"""Answerability: a question is answered only when the evidence says the kind of thing it asks for
(its focus) about the thing it asks about; otherwise the refusal says which kind of fact is missing."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.composer import share
from assistant.answering.context import UNKNOWN, Context
from assistant.answering.lexicon import lexicon, pattern
from assistant.answering.plan import Plan
from assistant.ingestion.text import split_sentences
from assistant.retrieval.hybrid import Hit

# Where and how much must be said of the subject itself (a 平台 or 亿元 elsewhere in the clauses answers
# nothing); dates and contacts sit apart from it too often to ask that.
SAID_OF_SUBJECT = frozenset({"money", "subsidy", "place", "address", "conditions", "person"})
# How to apply and what to submit are often said once for all the measures of a document (申请材料):
# the subject need only be named somewhere in the evidence.
SAID_OF_DOCUMENT = frozenset({"procedure", "materials"})
SUBJECT_SHARE = 0.8  # the question's words within this share of its rarest one name its subject
PARTIAL_WORD, PARTIAL_SHARE = 4, 0.75
NOMINAL = ("n", "vn")  # jieba tags of things: nouns and verbs used as nouns (运营 of 运营单位)  # a long word is named by a sentence holding most of its character pairs



def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def subject_words(weights: dict[str, float]) -> list[str]:
    """The rarest words of the subject; a word inside a longer one chosen (补贴 in 创业补贴) is left out."""
    top = max((w for t, w in weights.items() if len(t) >= 2), default=0.0)
    chosen = [t for t, w in weights.items() if len(t) >= 2 and w >= SUBJECT_SHARE * top]
    return [t for t in chosen if not any(t != o and t in o for o in chosen)]


def names(sentence: str, word: str, synonyms: dict[str, list[str]]) -> bool:
    """A sentence names a word: whole, by a synonym, or mostly (博士后工作站 in 博士后科研工作站)."""
    return word in sentence or any(x in sentence for x in synonyms.get(word, ())) or len(word) >= PARTIAL_WORD and share(word, sentence) >= PARTIAL_SHARE


def subject_share(sentence: str, subject: dict[str, float], synonyms: dict[str, list[str]]) -> float:
    total = sum(subject.values())
    return sum(w for t, w in subject.items() if names(sentence, t, synonyms)) / total if total else 0.0


def about_subject(evidence: str, weights: dict[str, float], synonyms: dict[str, list[str]] | None = None) -> str:
    """The evidence sentences naming one of the subject's rarest words: where 技师学院 is, is said
    (or not) where 技师学院 is mentioned, not by a 平台 elsewhere in the clause. Empty when none does;
    all of it when the question names no subject of its own."""
    subjects = subject_words(weights)
    if not subjects:
        return evidence
    synonyms = synonyms or {}
    return " ".join(s for s in sentences(evidence) if any(names(s, t, synonyms) for t in subjects))


def evidenced(focus: str, text: str) -> bool:
    return lexicon().has(f"evidence.{focus}", text)


def subject_weights(ctx: Context, plan: Plan) -> dict[str, float]:
    """IDF weights of what the question is about (Plan.subject: not its form words — 满足 and 条件 say
    what is asked, not about what — nor the document's name). Words the documents never use count
    when they are real content words (买车, 专科生: a subject never named is one they say nothing
    about), discounted as in `Context.weights` since some are paraphrases; fragments of segmentation
    (来澄川, 最多能) do not count."""
    if not plan.subject:
        return {}
    lexical = ctx.searcher.lexical
    text = " ".join(plan.subject)
    content = lexical.tokenizer.content_words(text)
    known = [t for t in ctx.tokens(text) if lexical.known(t) and any(t in w for w in content)]  # not 第一 of 第一次
    unknown = [w for w in content if not lexical.known(w) and w in ctx.tokens(w)]
    return {t: lexical.idf(t) * (1.0 if lexical.known(t) else UNKNOWN) for t in dict.fromkeys(known + unknown)}


def coverage_weights(ctx: Context, plan: Plan, weights: dict[str, float]) -> dict[str, float]:
    """The words whose coverage decides whether the clauses are about the question: its own words
    and the units it names, else (a follow-up naming nothing) the words of its borrowed topic."""
    own = " ".join(plan.own_terms + plan.units)
    return ctx.weights(own) if own.strip() else weights


def region(focus: str, evidence: str, subject: dict[str, float], synonyms: dict[str, list[str]] | None = None, strict: bool = False) -> str:
    """Where a kind of fact must be said: the sentences naming the subject; or, for how to apply and
    what to submit, anywhere in evidence that names it; dates and contacts anywhere (strict: always
    the subject's sentences, for ranking one clause against another)."""
    if focus in SAID_OF_SUBJECT or strict:
        return about_subject(evidence, subject, synonyms)
    if focus in SAID_OF_DOCUMENT:
        return evidence if about_subject(evidence, subject, synonyms) else ""
    return evidence


def missing_fact(plan: Plan, evidence: str, subject: dict[str, float], synonyms: dict[str, list[str]] | None = None) -> str | None:
    """The refusal for the first kind of fact asked for that the evidence lacks (about the subject)."""
    for focus in plan.focus:
        where = region(focus, evidence, subject, synonyms)
        if not evidenced(focus, where):
            return messages.NOT_IN_TEXT_FOCUS[focus]
    return None


def coverage(weights: dict[str, float], evidence: str, synonyms: dict[str, list[str]]) -> float:
    """IDF-weighted share of the question's content words (or their policy synonyms) found in the
    evidence. Single characters carry too little meaning to count."""
    content = {t: w for t, w in weights.items() if len(t) >= 2}
    total = sum(content.values())
    if total <= 0:
        return 0.0
    found = sum(w for t, w in content.items() if t in evidence or any(x in evidence for x in synonyms.get(t, ())))
    return found / total


def attachment_note(ctx: Context, hits: list[Hit]) -> str | None:
    notes = [ctx.index.docs[h.clause.doc].get("附件") for h in hits[:3]]
    return next((n for n in notes if n and pattern("attachment_missing").search(n)), None)


def years_of(ctx: Context, doc: str) -> set[str]:
    """Every year a document mentions (a question about 2030 is not answered by a 2025 plan)."""
    key = (ctx.index.build.name, doc)
    if key not in _years:
        text = " ".join(c.text for c in ctx.index.by_doc.get(doc, []))
        _years[key] = set(pattern("year").findall(text + ctx.index.docs[doc].title))
    return _years[key]


_years: dict[tuple[str, str], set[str]] = {}
_corpus: dict[str, str] = {}


def unknown_place(ctx: Context, query: str) -> str | None:
    """An area the question names that no document mentions (苏州工业园区, 广州 in a Kunshan plan):
    its rules are not in the knowledge base, however well the rest of the question matches."""
    places = ctx.searcher.lexical.tokenizer.places(query)
    if not places:
        return None
    build = ctx.index.build.name
    if build not in _corpus:
        _corpus.clear()
        _corpus[build] = " ".join([m.title for m in ctx.index.docs.values()] + [c.text for c in ctx.index.clauses])
    text = _corpus[build]
    bare = lambda p: pattern("area_suffix").sub("", p) if len(p) > 2 else p  # 北京市 is written 北京 too
    unknown = [p for p in places if p not in text and bare(p) not in text]
    # a known area named too (北京的专家来昆山…) makes the unknown one where people come from
    return unknown[0] if unknown and len(unknown) == len(places) else None


def foreign_area(ctx: Context, question: str) -> str | None:
    """An area named as the owner of the policy asked about (南京的人才安居政策, 杭州对高层次人才有
    什么扶持) that no document is from: the knowledge base holds no policy of its own, even where its
    text mentions the place. Where a home area is named too (在上海工作的工程师能不能来昆山兼职), the
    place is where people come from."""
    places = ctx.searcher.lexical.tokenizer.places(question)
    bare = lambda p: pattern("area_suffix").sub("", p) if len(p) > 2 else p
    home = ctx.home_areas
    if not places or any(p in home or bare(p) in home for p in places):
        return None
    for place in places:
        tail = question[question.find(place) + len(place) :]
        if pattern("area_owner_tail").search(tail):
            return place
    return None


def out_of_scope(ctx: Context, plan: Plan, weights: dict[str, float], evidence: str, hits: list[Hit]) -> str | None:
    """Why the retrieved clauses do not answer the question, or None when they may."""
    synonyms = ctx.searcher.lexical.tokenizer.synonyms
    reason = missing_fact(plan, evidence, subject_weights(ctx, plan), synonyms)
    if reason:
        return reason
    if "附件" in plan.question:
        note = attachment_note(ctx, hits)
        if note:
            return messages.NOT_IN_TEXT + messages.ATTACHMENT_NOTE.format(note=note)
    asked = set(pattern("year").findall(plan.question))
    if asked and not asked & set(pattern("year").findall(evidence)) and not any(asked & years_of(ctx, h.clause.doc) for h in hits[:3]):
        return messages.NOT_IN_TEXT
    if coverage(coverage_weights(ctx, plan, weights), evidence, synonyms) < ctx.settings.min_coverage:
        return messages.NOT_IN_TEXT
    if plan.doc and len(ctx.index.docs) > 1:
        # 澄川对引进的院士有什么支持: another document speaks of 院士, the one asked about never does
        text = ctx.km.doc_text(plan.doc)
        words = {w for w, flag in ctx.searcher.lexical.tokenizer.tagged(plan.question) if flag.startswith(NOMINAL)}  # things (运营 as a noun), not 能领
        absent = [t for t in subject_words(subject_weights(ctx, plan)) if t in words and t in ctx.km.corpus() and not names(text, t, synonyms)]
        if absent:
            return messages.NOT_IN_TEXT
    return None
