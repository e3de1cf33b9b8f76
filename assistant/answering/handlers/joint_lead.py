"""The measures led by two or more units, complete, from the unit-role table."""
from __future__ import annotations

from assistant.answering.composer import measure_name, responsibility_text
from assistant.answering.plan import Plan
from assistant.models import Answer


def applies(plan: Plan) -> bool:
    return plan.has("asks.joint") and not plan.units


def handle(ctx, plan: Plan) -> Answer:
    draft = ctx.draft()
    joint = [n for n in ctx.km.joint_leads() if plan.doc is None or n.doc == plan.doc]
    if not joint:
        draft.lines.append("已收录的政策文件中没有由两个或以上单位共同牵头的举措。")
        return Answer(question=plan.raw, answer=draft.text(), intent="joint_lead")
    draft.lines.append(f"由两个或以上单位共同牵头的举措共{len(joint)}项：")
    for node in joint:
        clause = ctx.km.clause(node.key)
        n = draft.cite(clause, 1.0, quote=responsibility_text(clause))
        draft.lines.append(f"- {measure_name(clause)}（{clause.clause_id}）：{'、'.join(clause.lead_units)}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="joint_lead", listed=[n.key for n in joint])
