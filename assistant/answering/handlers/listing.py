"""The parts of a section the question names by its heading (六大平台是哪几个, 基本原则有几条,
主要举措分为哪几大块), counted and each cited; or one numbered item of it (主要举措的第二十条)."""
from __future__ import annotations

from assistant.answering.composer import measure_name
from assistant.answering.plan import Plan
from assistant.models import Answer

NAMED_RUN = 4  # characters of a heading the question must repeat to name the section
RETRIEVED = 5  # clauses whose documents may hold the section a question names
OTHER_WORDS = 2  # characters a question may name besides the section before it asks about something in it


def applies(plan: Plan) -> bool:
    if plan.units or plan.role or plan.clause or plan.items:
        return False
    if not plan.section:  # 第16项举措讲的是什么 / 澄川青年人才措施一共有多少条: numbered across the document
        return plan.ordinal is not None or plan.has("asks.count") and len(plan.beyond_titles) <= NAMED_RUN
    if plan.section_run < NAMED_RUN and not plan.has("asks.count") or len(plan.beyond_section) > OTHER_WORDS:
        return False  # 澄川对引进的院士有什么支持政策 asks about 院士, not for the parts of 支持政策
    return plan.has("asks.list", "asks.count") or plan.ordinal is not None or plan.section_parts  # 四大行动是什么


def handle(ctx, plan: Plan) -> Answer:
    km = ctx.km
    if not plan.section:
        return _document(ctx, plan)
    section = km.nodes[plan.section]
    if len(km.docs) > 1 and section.doc not in {h.clause.doc for h in ctx.searcher.search(plan.query, k=RETRIEVED)}:
        # among many documents, a heading the question echoes (支持企业稳定生产经营) names a section only
        # in a document retrieval finds for it
        return ctx.delegate("general", plan)
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
    where = f"{section.label}的第{plan.ordinal}项" if section.key != item.key else f"第{plan.ordinal}项"
    draft.lines.append(f"{where}：{clause.text}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="listing", listed=[item.key])


def _document(ctx, plan: Plan) -> Answer:
    """Items numbered across a whole document: the n-th, or how many there are, part by part."""
    km = ctx.km
    docs = [plan.doc] if plan.doc else list(km.order) if len(km.order) == 1 else []
    if plan.ordinal:
        found = [n for d in (docs or km.order) for n in km.by_number(plan.ordinal, doc=d)]
        if len(found) != 1 and not docs:
            return ctx.delegate("general", plan)
        if not found:
            return ctx.delegate("general", plan)
        item = max(found, key=lambda n: len(km.descendants(n.parent)) if n.parent else 0)  # the longest numbered run
        parent = km.nodes.get(item.parent) if item.parent else None
        return _item(ctx, plan, parent or item, item)
    if len(docs) != 1:
        return ctx.delegate("general", plan)
    doc = docs[0]
    parts = [km.nodes[k] for k in km.order[doc] if km.nodes[k].parent is None and km.nodes[k].kind not in ("metadata", "preamble", "paragraph")]
    counts = [(part, [n for n in km.descendants(part.key) if n.number is not None and not n.children]) for part in parts]
    counts = [(part, items) for part, items in counts if items]
    if not counts:
        return ctx.delegate("general", plan)
    draft = ctx.draft()
    total = sum(len(items) for _, items in counts)
    draft.lines.append(f"《{km.docs[doc].title}》共{total}条，分{len(counts)}个部分：")
    for part, items in counts:
        n = draft.cite(km.clause(part.key), 1.0)
        draft.lines.append(f"- {part.name}[{n}]：{len(items)}条（{items[0].number}—{items[-1].number}）")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="listing", listed=[p.key for p, _ in counts])
