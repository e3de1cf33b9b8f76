"""Dialogue state: what a conversation is about after each turn, and how a new question's pointers
(它 / 这一项 / 其中 / 下一项 / 那…呢) are filled in from it. Pure functions over typed models."""
from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.answering.knowledge import KnowledgeModel
from assistant.answering.plan import Plan
from assistant.answering.registry import IntentSpec, by_name, label_owner
from assistant.models import Answer

SHORT_REFINEMENT = 5  # 那要净增多少家？ adds fewer characters than this to the subject it refines


class DialogueState(BaseModel):
    plan: Plan | None = Field(None, description="the previous turn's plan, resolved")
    clause: str | None = Field(None, description="key of the clause the conversation is on")
    items: list[str] = Field(default_factory=list, description="keys the previous answer listed")
    section: str | None = None

    @property
    def empty(self) -> bool:
        return self.plan is None


def point(plan: Plan, state: DialogueState, km: KnowledgeModel) -> Plan:
    """The clause or items a question points at, taken from the state (before routing)."""
    if state.empty:
        return plan
    p = plan.model_copy(deep=True)
    items = state.items or ([c.key for c in km.children(state.section)] if state.section else [])
    if p.step and state.clause:
        target = km.step(state.clause, p.step)
        p.clause = target.key if target else None
    elif p.has("ref.partitive") and items:
        p.items = items
        if p.ordinal and p.ordinal <= len(items):
            p.clause = items[p.ordinal - 1]
        else:
            named = [n for n, run in km.link_sections(p.question) if n.key in items]
            p.clause = named[0].key if named else None
    elif p.ordinal and not p.section and items and p.ordinal <= len(items):  # 第三条具体讲的是什么？
        p.clause = items[p.ordinal - 1]
    elif p.has("ref.anaphora") or (p.refers_back and len(p.own) < 2 and (not p.units or p.role or p.has("asks.yes_no"))):
        # 配合单位里有卫健委吗 checks the measure in focus; 那工信局呢 asks the same of another unit
        p.clause = state.clause
    if p.clause or p.items or p.refers_back:
        p.query = f"{state.plan.query} {p.question}"
        p.carried = True
    return p


def carry(plan: Plan, spec: IntentSpec, state: DialogueState) -> tuple[Plan, IntentSpec]:
    """A follow-up that names only part of a question borrows the rest from the previous turn: the
    kind of question (独角兽培育企业呢？ after a target question), or the subject (那要净增多少家？)."""
    previous = state.plan
    if previous is None or spec.name in ("hostile", "chitchat"):
        return plan, spec
    before = by_name(previous.intent)
    p = plan.model_copy(deep=True)
    if spec.name == previous.intent and before.carries and len(p.own) < SHORT_REFINEMENT and p.refers_back:
        p.topic = f"{previous.topic} {p.own}".strip()
        p.subject = previous.subject + p.subject
        p.units = p.units or previous.units
        return p, spec
    if not p.refers_back:
        return plan, spec
    p.focus = p.focus or previous.focus  # 那硕士呢？ after 博士租房补贴每月多少？ asks for an amount too
    if spec.name in ("general", "chitchat") and before.carries and not p.clause:
        # the same kind of question about a new subject or unit
        p.intent, p.role, p.focus = previous.intent, p.role or previous.role, p.focus or previous.focus
        if not plan.role:  # the role borrowed with the words that asked for it (牵头 is not 负责)
            p.cues = p.cues | {c for c in previous.cues if c.startswith("role.")}
        p.meta_fields = p.meta_fields or previous.meta_fields
        p.units = p.units or ([] if len(p.own) >= 2 else previous.units)
        if len(p.own) >= 2 or plan.units:
            p.query, p.topic = plan.question, p.own or previous.topic
            p.clause = None
        else:
            p.topic, p.clause, p.subject = previous.topic, state.clause, previous.subject
        return p, before
    if len(p.own) < 2:
        p.topic = previous.topic  # a new kind of question about the previous subject
        p.subject = p.subject or previous.subject
        p.units = p.units or (previous.units if spec.name in ("department", "membership") else [])
    return p, spec


def update(state: DialogueState, plan: Plan, answer: Answer, km: KnowledgeModel) -> DialogueState:
    """The state after a turn: its plan, the clause its answer is about, the items it listed."""
    if answer.intent in ("hostile", "chitchat", "empty", "too_long", "clarify"):
        return state
    first = next((f"{c.doc}::{c.clause_id}" for c in answer.citations if f"{c.doc}::{c.clause_id}" in km.nodes), None)
    listed = [k for k in answer.listed if k in km.nodes]
    clause = plan.clause if plan.intent in ("units", "membership", "clause") and plan.clause else first
    if answer.refused:
        clause = state.clause or clause
    owner = label_owner(answer.intent)
    answered = owner.name if owner else plan.intent
    plan = plan.model_copy(update={"intent": answered})  # a look-up that found nothing was answered as a general question
    return DialogueState(
        plan=plan, clause=clause if not listed or len(listed) == 1 else (plan.section or clause), items=listed or state.items,
        section=plan.section if plan.intent == "listing" else state.section,
    )
