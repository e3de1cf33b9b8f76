"""Who leads / co-operates on a measure: the measure in focus of the dialogue, or found by retrieval
among the clauses that name their units; the units are read from the parsed clause."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.composer import measure_line, measure_name, responsibility_text
from assistant.answering.plan import Plan
from assistant.models import Answer, Clause
from assistant.retrieval.hybrid import Hit

OTHER_TOPIC = 1.5  # a clause without units scoring this much better is what the question is about


def applies(plan: Plan) -> bool:
    if plan.role is None:
        return False
    return plan.has("asks.unit", "role.named") or (plan.clause is not None and not plan.has("asks.measures"))


def has_units(clause: Clause) -> bool:
    return bool(clause.lead_units or clause.coop_units)


def find_measure(ctx, plan: Plan) -> Hit | None:
    """The measure asked about, or None when the question is about something without units
    (领导小组的组长由谁担任)."""
    if plan.clause:
        clause = ctx.km.clause(plan.clause)
        if clause is not None and has_units(clause):
            return Hit(clause=clause, score=1.0)
    keep, name = ctx.in_doc(plan)
    within = (lambda c: has_units(c) and keep(c)) if keep else has_units
    hits = ctx.searcher.search(plan.query, k=3, keep=within, keep_name=f"has_units:{name}")
    if not hits:
        return None
    overall = ctx.searcher.search(plan.query, k=1)
    top = overall[0] if overall else None
    if top and not has_units(top.clause) and top.clause.kind not in ("heading", "metadata") and top.score > OTHER_TOPIC * hits[0].score:
        return None
    return hits[0]


def handle(ctx, plan: Plan) -> Answer:
    hit = find_measure(ctx, plan)
    if hit is None:
        return ctx.delegate("general", plan)
    clause = hit.clause
    kind = plan.role or "units"
    draft = ctx.draft()
    n = draft.cite(clause, hit.score, quote=responsibility_text(clause))
    name = measure_name(clause)
    lead, coop = "、".join(clause.lead_units) or "未写明", "、".join(clause.coop_units) or "未写明"
    draft.lines.append(f"相关举措：{measure_line(clause)}")
    if kind == "lead":
        draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的牵头单位是：{lead}[{n}]。")
        if clause.coop_units:
            draft.lines.append(f"配合单位：{coop}[{n}]。")
    elif kind == "coop":
        draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的配合单位是：{coop}[{n}]。")
        draft.lines.append(f"牵头单位：{lead}[{n}]。")
    else:
        draft.lines.insert(0, f"“{name}”（{clause.clause_id}）的牵头单位是：{lead}；配合单位是：{coop}[{n}]。")
    if not has_units(clause):
        draft.lines.insert(0, messages.NO_UNITS)
    for unit in plan.units if kind != "lead" else []:
        role = ctx.km.role_of(unit, f"{clause.doc}::{clause.clause_id}")
        draft.lines.append(f"其中{'有' if role else '没有'}{unit}" + (f"（{'牵头' if role == 'lead' else '配合'}）[{n}]。" if role else "。"))
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent=kind)
