"""A target number from the indicator table (有效高新技术企业 3500 家); a question naming no number, or
none that matches, is answered from the target clauses by retrieval instead."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.composer import bigram_similarity, char_bigrams
from assistant.answering.lexicon import pattern
from assistant.answering.plan import Plan
from assistant.models import Answer
from assistant.retrieval.hybrid import Hit
from assistant.retrieval.tokenize import expand_query

SHORT_TOPIC = 20
MATCH = 0.5  # share of an indicator's name a question must contain
TIE = 0.08  # indicators this close to the best are asked about too
WHOLE_PART = 0.8
MAX_SHOWN = 6


def applies(plan: Plan) -> bool:
    if not plan.has("asks.number") or plan.units or "money" in plan.focus:
        return False
    return plan.has("target.context") or len(plan.topic) <= SHORT_TOPIC


def _clean(text: str) -> str:
    return pattern("markers_bracket").sub("", text)


def match_indicators(topic: str, indicators: list, synonyms: dict[str, list[str]] | None = None, question: str = "") -> list:
    """Indicators named by the topic. A topic listing several (有效高企、瞪羚企业、上市企业) gets
    each part that names one indicator completely."""

    def score(text: str, name: str) -> float:
        core = _clean(pattern("indicator_prefix").sub("", name))
        contained = len(char_bigrams(core) & char_bigrams(_clean(text))) / max(1, len(char_bigrams(core)))
        return 0.5 * bigram_similarity(text, name) + 0.5 * contained

    synonyms = synonyms or {}
    whole = expand_query(topic, synonyms)
    ranked = sorted(((score(whole, i.indicator), n) for n, i in enumerate(indicators)), key=lambda x: -x[0])
    chosen: list = []
    if ranked and ranked[0][0] >= MATCH:
        chosen = [indicators[n] for s, n in ranked if s >= ranked[0][0] - TIE]
    parts = [p for p in pattern("name_separators").split(question or topic) if len(_clean(p)) >= 3]
    if len(parts) > 1:
        for part in parts:
            part = pattern("indicator_tail").sub("", part)
            part_grams = char_bigrams(_clean(expand_query(part, synonyms)))
            own = char_bigrams(_clean(part))
            fits = [i for i in indicators if own and len(own & char_bigrams(_clean(i.indicator))) == len(own)]
            if not fits:
                fits = [i for i in indicators if part_grams and len(part_grams & char_bigrams(_clean(i.indicator))) >= WHOLE_PART * len(char_bigrams(_clean(i.indicator)))]
            if len(fits) == 1 and fits[0] not in chosen:
                chosen.append(fits[0])
    return chosen[:MAX_SHOWN]


def handle(ctx, plan: Plan) -> Answer:
    index = ctx.index
    topic = plan.topic or plan.query
    chosen = match_indicators(topic.replace(" ", ""), index.indicators, ctx.searcher.lexical.tokenizer.synonyms, plan.question)
    if not chosen or not pattern("asks_exact_number").search(plan.question) and len(chosen) > 1:
        # 国家级创新平台有什么目标？ names no number: the target clause itself answers
        return ctx.delegate("general", plan)
    asked_years = set(pattern("year").findall(plan.question))
    draft = ctx.draft()
    for ind in chosen:
        clause = index.clause(ind.doc, ind.clause_id)
        section = index.clause(ind.doc, clause.clause_id.split(".")[0])
        doc_text = index.docs[ind.doc].title + clause.text + (section.text if section else "")
        if asked_years - set(pattern("year").findall(doc_text)) or pattern("actual_progress").search(plan.question):
            return ctx.refuse(plan, messages.NOT_IN_TEXT_NUMBER, [Hit(clause=clause, score=1.0)], "target")
        n = draft.cite(clause, 1.0, quote=ind.sentence)
        group = ind.group.lstrip("—")
        draft.lines.append(f"{ind.indicator}：{ind.value}{' ' if ind.unit != '%' else ''}{ind.unit}（{group}）。原文：“{ind.sentence}”[{n}]")
    if len(chosen) == 1:
        span = pattern("title_years").search(index.docs[chosen[0].doc].title)
        draft.lines.insert(0, f"到{span.group(2)}年的目标：" if span else "目标：")
    else:
        draft.lines.insert(0, "相关目标如下：")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="target")
