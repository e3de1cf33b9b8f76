"""Document metadata: 文号, issuer, level, status, dates, period, attachment … from the document's header
and from what its own text says of itself (signature, 自…起施行, 有效期至, 由…负责解释)."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.lexicon import pattern
from assistant.answering.plan import Plan
from assistant.models import Answer

SHORT_TOPIC = 16  # a longer question names a subject of its own: 重庆市税务局发布的办税清单…
OTHER_SUBJECT = 4  # characters a question may name besides the document before it is about something else


def applies(plan: Plan) -> bool:
    if not plan.meta_fields or plan.units or plan.has("asks.locate"):
        return False
    return len(plan.topic.replace(" ", "")) <= SHORT_TOPIC and len(plan.beyond_titles) <= OTHER_SUBJECT


def _document(ctx, plan: Plan) -> str | None:
    if plan.doc:
        return plan.doc
    hits = ctx.searcher.search(plan.query, k=3, keep=lambda c: c.kind == "metadata", keep_name="metadata")
    if hits:
        return hits[0].clause.doc
    return next(iter(ctx.index.docs), None) if len(ctx.index.docs) == 1 else None


def _value(facts, field: str) -> tuple[str, str] | None:
    for name in messages.META_SOURCES.get(field, (field,)):
        value = facts.title if name == "title" else facts.fields.get(name)
        if value:
            return name, value
    return None


def handle(ctx, plan: Plan) -> Answer:
    doc = _document(ctx, plan)
    if doc is None:
        return ctx.delegate("general", plan)
    facts = ctx.km.docs[doc]
    draft = ctx.draft()
    head = ctx.index.clause(doc, "文件信息")
    if "附件" in plan.meta_fields:
        return _attachment(ctx, plan, doc, facts, draft, head)
    lines = []
    for field in plan.meta_fields or list(messages.META_DEFAULT):
        found = _value(facts, field)
        if found is None:
            continue
        name, value = found
        source = _source_clause(ctx, doc, facts, name, value)
        if source is None:
            continue
        n = draft.cite(source, 1.0, quote=value)
        label = messages.META_LABELS.get(field if field in messages.META_LABELS else name, name)
        lines.append(f"{label}：{value}[{n}]")
    if not lines:
        hits = ctx.searcher.search(plan.query, k=3)
        return ctx.refuse(plan, messages.NOT_IN_TEXT, hits, "metadata")
    draft.lines.append(f"《{facts.title}》" + "；".join(lines) + "。")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="metadata")


def _source_clause(ctx, doc: str, facts, name: str, value: str):
    """The clause that states a field: the header, or the clause whose text carries it (the signature)."""
    head = ctx.index.clause(doc, "文件信息")
    if head is not None and (name == "title" or value in head.text):
        return head
    key = facts.sources.get(name)
    if key:
        return ctx.km.clause(key)
    return next((ctx.km.clause(k) for k in reversed(ctx.km.order.get(doc, [])) if value in ctx.km.clause(k).text), head)


def _attachment(ctx, plan: Plan, doc: str, facts, draft, head) -> Answer:
    """What the attachment is called; its contents only if the knowledge base holds them."""
    clause = next((ctx.km.clause(k) for k in ctx.km.order.get(doc, []) if ctx.km.nodes[k].kind == "attachment"), None)
    note = facts.fields.get("附件", "")
    missing = bool(pattern("attachment_missing").search(note))
    n_head = draft.cite(head, 1.0) if head is not None else None
    n = draft.cite(clause, 1.0, quote=clause.text) if clause is not None else n_head
    if n is None:
        return ctx.refuse(plan, messages.NOT_IN_TEXT, [], "metadata")
    if missing and (plan.has("asks.number", "asks.list") or plan.focus):  # 附件指标体系里每一年的指标是多少
        if n_head is not None:
            draft.citations[n_head - 1].quotes.append(f"附件：{note}")
        return Answer(question=plan.raw, answer=f"{messages.NOT_IN_TEXT}{messages.ATTACHMENT_NOTE.format(note=note)}[{n_head or n}]",
                      refused=True, citations=draft.citations, intent="metadata")
    name = clause.text if clause is not None else note
    line = f"《{facts.title}》的附件：{name}[{n}]。"
    if missing and n_head is not None:
        line += f"\n{messages.ATTACHMENT_NOTE.format(note=note)}[{n_head}]"
    draft.lines.append(line)
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="metadata")
