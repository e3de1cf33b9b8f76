"""Yes or no: is a unit among one measure's lead or co-operating units (卫健委参与了人才培养群英计划吗)."""
from __future__ import annotations

from assistant.answering.handlers import units
from assistant.answering.plan import Plan
from assistant.models import Answer

OWN_SUBJECT = 4  # characters of its own a question needs to name the measure itself


def applies(plan: Plan) -> bool:
    if not plan.units or not plan.has("asks.yes_no") or plan.has("asks.measures"):
        return False
    return plan.role is not None and (len(plan.own) >= OWN_SUBJECT or plan.clause is not None) or plan.clause is not None


def handle(ctx, plan: Plan) -> Answer:
    hit = units.find_measure(ctx, plan)
    if hit is None:
        return ctx.delegate("general", plan)
    answer = units.handle(ctx, plan.model_copy(update={"clause": f"{hit.clause.doc}::{hit.clause.clause_id}", "units": [], "role": "units"}))
    key = f"{hit.clause.doc}::{hit.clause.clause_id}"
    verdicts = []
    for unit in plan.units:
        role = ctx.km.role_of(unit, key)
        asked = plan.role if plan.role in ("lead", "coop") else None
        yes = role is not None and (asked is None or asked == role)
        name = "牵头" if role == "lead" else "配合"
        # the units below are quoted from the clause they cite, so the verdict carries no marker of its own
        if yes:
            verdicts.append(f"是，{unit}是这项举措的{name}单位。")
        elif role is not None:
            verdicts.append(f"否，{unit}是这项举措的{name}单位，不是{'牵头' if asked == 'lead' else '配合'}单位。")
        else:
            verdicts.append(f"否，{unit}不是这项举措的牵头或配合单位。")
    answer.answer = "\n".join(verdicts + [answer.answer])
    answer.intent = plan.role or "units"
    return answer
