"""Instructions to the assistant, probes for secrets, injection payloads: declined."""
from __future__ import annotations

from assistant.answering import messages
from assistant.answering.plan import Plan
from assistant.models import Answer


def applies(plan: Plan) -> bool:
    return plan.has("hostile")


def handle(ctx, plan: Plan) -> Answer:
    return Answer(question=plan.raw, answer=messages.HOSTILE, refused=True, intent="hostile")
