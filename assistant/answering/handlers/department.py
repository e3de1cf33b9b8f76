"""What units are responsible for, complete, from the unit-role table: the measures a unit leads or
co-operates on (and how many), those two units share, a unit that leads nothing (said, with where it
co-operates), the unit that leads the most; within the items of the previous answer (其中) or one
document when the question names it."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.composer import measure_line, responsibility_text
from assistant.answering.plan import Plan
from assistant.models import Answer

DUTY_TOPIC = 8  # "which tasks does X have" without a role word is a reverse look-up only when little else is asked
ROLE_NAMES = {"lead": "牵头", "coop": "配合"}
LABELS = {"lead": "reverse_lead", "coop": "reverse_coop", "any": "reverse_any"}


def applies(plan: Plan) -> bool:
    if plan.focus:  # 市委人才办的负责人叫什么名字 asks for a fact, not for its duties
        return False
    if not plan.units:
        return plan.has("asks.most") and plan.has("asks.unit")
    if plan.clause and plan.has("asks.unit", "role.named") or plan.has("asks.yes_no") and not plan.has("asks.measures", "asks.count"):
        return False
    about_duties = plan.role is not None or plan.has("asks.measures") and len(plan.own) <= DUTY_TOPIC
    asks_measures = plan.has("asks.measures", "asks.count") or not plan.has("asks.unit", "role.named")
    return about_duties and asks_measures


def role_asked(plan: Plan) -> str:
    """市委台办负责什么 asks for everything it does; 牵头 asks for what it leads."""
    if plan.role == "lead" and not plan.has("role.lead.strict"):
        return "any"
    return plan.role if plan.role in ("lead", "coop") else "any"


def handle(ctx, plan: Plan) -> Answer:
    km = ctx.km
    role = role_asked(plan)
    draft = ctx.draft()
    pool = set(plan.items) or None
    doc = plan.doc if len(ctx.index.docs) > 1 else None

    def measures(unit: str, r: str):
        return [n for n in km.measures(unit, r) if (pool is None or n.key in pool) and (doc is None or n.doc == doc)]

    def listing(nodes, header: str) -> None:
        draft.lines.append(header)
        for node in nodes:
            clause = km.clause(node.key)
            draft.lines.append(f"- {measure_line(clause)}[{draft.cite(clause, 1.0, quote=responsibility_text(clause))}]")

    if not plan.units:  # 哪个部门牵头的举措最多
        r = role if role != "any" else "lead"
        ranking = [(u, len(measures(u, r))) for u, _ in km.ranking(r)]
        ranking = sorted((x for x in ranking if x[1]), key=lambda x: -x[1])
        if not ranking:
            return ctx.delegate("general", plan)
        unit, count = ranking[0]
        listing(measures(unit, r), f"{ROLE_NAMES[r]}举措最多的是{unit}，共{count}项：")
        others = "、".join(f"{u}（{c}项）" for u, c in ranking[1:4])
        if others:
            draft.lines.append(f"其后依次是：{others}。")
        return _answer(plan, draft, LABELS[r])
    if len(plan.units) >= 2 and plan.has("asks.shared"):
        r = role if role != "any" else "lead"
        shared = [n for n in km.shared(plan.units, r) if (pool is None or n.key in pool) and (doc is None or n.doc == doc)]
        who = "、".join(plan.units)
        if not shared:
            draft.lines.append(f"没有{who}共同{ROLE_NAMES[r]}的举措。")
        else:
            listing(shared, f"{who}共同{ROLE_NAMES[r]}的举措共{len(shared)}项：")
        return _answer(plan, draft, LABELS[r])
    for unit in plan.units:
        if not km.measures(unit, "any"):
            hits = ctx.searcher.search(plan.query, k=3)
            return ctx.refuse(plan, messages.NO_DEPARTMENT.format(name=unit), hits, LABELS[role])
        parts = ["lead", "coop"] if role == "any" else [role]
        if role in ("lead", "coop") and not measures(unit, role):
            parts.append("coop" if role == "lead" else "lead")  # leads nothing: say so, and where it co-operates
        for r in parts:
            nodes = measures(unit, r)
            if not nodes:
                draft.lines.append(f"{unit}没有作为{ROLE_NAMES[r]}单位的举措" + ("（在所问的范围内）。" if pool or doc else "。"))
                continue
            listing(nodes, f"{unit}作为{ROLE_NAMES[r]}单位的举措共{len(nodes)}项：")
        aliases = km.aliases.get(unit)
        if aliases:
            draft.lines.append(f"（文件中也写作：{'、'.join(aliases)}）")
    return _answer(plan, draft, LABELS[role])


def _answer(plan: Plan, draft, label: str) -> Answer:
    listed = [f"{c.doc}::{c.clause_id}" for c in draft.citations]
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent=label, listed=listed)
