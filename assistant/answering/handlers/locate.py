"""Where a term is mentioned (“星期天工程师”在哪里提到 / 在哪项举措里提出): the clauses whose text
contains it, best-ranked first, with the measure and the part of the document they belong to."""
from __future__ import annotations

from assistant.answering.composer import sentences_of
from assistant.answering.plan import Plan
from assistant.models import Answer
from assistant.retrieval.tokenize import quoted_terms

SHOWN = 3
CITABLE = ("clause", "target", "paragraph", "preamble", "attachment")


def applies(plan: Plan) -> bool:
    return plan.has("asks.locate") and not plan.has("asks.unit")


def terms_of(ctx, plan: Plan) -> list[str]:
    """The quoted term, else the runs of the question's own words that the documents contain."""
    quoted = sorted(quoted_terms([plan.question]), key=len, reverse=True)
    if quoted:
        return quoted[:1]
    return ctx.km.phrases(plan.own, minimum=2)


def handle(ctx, plan: Plan) -> Answer:
    terms = terms_of(ctx, plan)
    if not terms:
        return ctx.delegate("general", plan)
    km = ctx.km
    keep, _ = ctx.in_doc(plan)
    holders = {
        k for k, n in km.nodes.items()
        if n.kind in CITABLE and (keep is None or n.doc == plan.doc) and all(t in km.clause(k).text for t in terms)
    }
    if not holders:
        return ctx.delegate("general", plan)
    ranked = [f"{h.clause.doc}::{h.clause.clause_id}" for h in ctx.searcher.search(plan.query, k=40)]
    # a measure before a target line or the header that repeats its words (“揭榜挂帅”在哪一项举措里)
    order = sorted([k for k in ranked if k in holders] + sorted(holders - set(ranked)), key=lambda k: km.nodes[k].kind != "clause")
    draft = ctx.draft()
    shown = [f"“{terms[0]}”" if len(terms) == 1 else "、".join(terms)]
    for i, key in enumerate(order[:SHOWN]):
        clause = km.clause(key)
        node = km.nodes[key]
        sentence = next((s for s in sentences_of(clause) if all(t in s for t in terms)), clause.text)
        parent = km.nodes.get(node.parent) if node.parent else None
        where = f"{node.name}（{node.clause_id}" + (f"，属于“{parent.name}”" if parent else "") + "）"
        n = draft.cite(clause, 1.0, quote=sentence)
        draft.lines.append((f"{shown[0]}出现在：{where}。原文：" if i == 0 else f"另见{where}：") + f"{sentence}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="locate", listed=order[:SHOWN])
