"""Greetings and questions no policy text is about (天气 and 股票 can be: 高温天气津贴, so only short ones)."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.plan import Plan
from assistant.models import Answer

SHORT_TOPIC = 12


def applies(plan: Plan) -> bool:
    return plan.has("chitchat") and len(plan.topic) <= SHORT_TOPIC or plan.has("never_policy")


def handle(ctx, plan: Plan) -> Answer:
    return Answer(question=plan.raw, answer=messages.CHITCHAT, refused=True, intent="chitchat")
