"""The clause the dialogue points at (下一项是什么 / 其中第二个平台是做什么的 / 这一条里提到了哪些基金):
its sentences that answer the question, or its opening when the question asks nothing more."""
from __future__ import annotations

from assistant.answering import evidence
from assistant.answering.composer import measure_name, pick_sentences
from assistant.answering.plan import Plan
from assistant.models import Answer

OPENING = 2  # sentences shown of a clause asked about as a whole


def applies(plan: Plan) -> bool:
    return plan.clause is not None or bool(plan.items)


def handle(ctx, plan: Plan) -> Answer:
    key = plan.clause
    if key is None:  # 其中哪一项和台湾有关: the best of the items for the question
        pool = set(plan.items)
        hits = ctx.searcher.search(plan.question, k=1, keep=lambda c: f"{c.doc}::{c.clause_id}" in pool)
        if not hits:
            return ctx.delegate("general", plan)
        key = f"{hits[0].clause.doc}::{hits[0].clause.clause_id}"
    clause = ctx.km.clause(key)
    if clause is None:
        return ctx.delegate("general", plan)
    weights = ctx.weights(" ".join(plan.own_terms)) if plan.own_terms else {}
    if plan.focus and evidence.missing_fact(plan, clause.text, evidence.subject_weights(ctx, plan)):
        # 怎么申请？ after a question on an amount: the procedure is said elsewhere, if anywhere
        return ctx.delegate("general", plan.model_copy(update={"clause": None, "items": []}))
    draft = ctx.draft()
    chosen = pick_sentences([(clause, 1.0)], weights, limit=3) if weights else []
    head = f"“{measure_name(clause)}”（{clause.clause_id}）"
    if not chosen or not any(evidence.coverage(weights, s, {}) > 0 for _, _, s, _ in chosen):
        sentences = evidence.sentences(clause.text)
        body = "".join(sentences[: OPENING + 1]) if len(sentences) > OPENING + 1 else clause.text
        n = draft.cite(clause, 1.0, quote=body)
        draft.lines.append(f"{head}：{body}[{n}]")
    else:
        draft.lines.append(f"{head}：")
        for _, _, sentence, _ in chosen:
            n = draft.cite(clause, 1.0, quote=sentence)
            draft.lines.append(f"{sentence}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="clause")
