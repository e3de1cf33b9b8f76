"""The parts of a section the question names by its heading (六大平台是哪几个, 基本原则有几条,
主要举措分为哪几大块), counted and each cited; or one numbered item of it (主要举措的第二十条)."""
from __future__ import annotations

from assistant.answering.composer import measure_name
from assistant.answering.plan import Plan
from assistant.models import Answer

NAMED_RUN = 4  # characters of a heading the question must repeat to name the section


def applies(plan: Plan) -> bool:
    if not plan.section or plan.units or plan.role:
        return False
    if plan.section_run < NAMED_RUN and not plan.has("asks.count"):
        return False
    return plan.has("asks.list", "asks.count") or plan.ordinal is not None


def handle(ctx, plan: Plan) -> Answer:
    km = ctx.km
    section = km.nodes[plan.section]
    children = km.children(section.key)
    if plan.ordinal:
        item = children[plan.ordinal - 1] if plan.ordinal <= len(children) else next(iter(km.by_number(plan.ordinal, within=section.key)), None)
        if item is None:
            return ctx.delegate("general", plan)
        return _item(ctx, plan, section, item)
    if not children or plan.count_asked and plan.count_asked != len(children):
        # 总体目标里的“四个地” are in its text, not its five target groups
        return ctx.delegate("general", plan)
    draft = ctx.draft()
    grouped = [km.children(c.key) for c in children]
    label = section.label
    if all(grouped):  # 主要举措: six groups of 22 measures, counted and listed by group
        draft.lines.append(f"{label}分{len(children)}个部分，共{sum(map(len, grouped))}项：")
        for child, items in zip(children, grouped):
            clause = km.clause(child.key)
            n = draft.cite(clause, 1.0, quote=clause.text)
            draft.lines.append(f"- {measure_name(clause)}[{n}]：{len(items)}项（{'、'.join(i.name for i in items)}）")
    else:
        draft.lines.append(f"{label}共{len(children)}项：")
        for child in children:
            clause = km.clause(child.key)
            first = clause.text.split("。")[0]
            n = draft.cite(clause, 1.0, quote=first + "。" if len(first) < len(clause.text) else first)
            draft.lines.append(f"- {first}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="listing", listed=[c.key for c in children])


def _item(ctx, plan: Plan, section, item) -> Answer:
    clause = ctx.km.clause(item.key)
    draft = ctx.draft()
    n = draft.cite(clause, 1.0, quote=clause.text)
    draft.lines.append(f"{section.label}的第{plan.ordinal}项：{clause.text}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="listing", listed=[item.key])
