"""A follow-up with nothing before it to point at (它 / 其中 / 下一项 / 那配合单位呢 after 新对话) is
asked back instead of being answered about an arbitrary measure."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.plan import Plan
from assistant.models import Answer

POINTERS = ("ref.next", "ref.prev", "ordinal.bare")  # meaningless without an earlier turn


def applies(plan: Plan) -> bool:
    if plan.carried:
        return False
    if plan.has(*POINTERS):
        return True
    if plan.meta_fields or plan.ordinal and not plan.has("ref.partitive"):  # 这个文件还有效吗 / 第16项举措: they name what they ask about
        return False
    return plan.refers_back and len(plan.own) < 2 and not plan.units and not plan.section


def handle(ctx, plan: Plan) -> Answer:
    return Answer(question=plan.raw, answer=messages.CLARIFY, refused=True, clarify=True, intent="clarify")
