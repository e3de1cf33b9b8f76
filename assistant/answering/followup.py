"""Follow-up questions resolved against the earlier turns (extractive mode, no LLM)."""
from __future__ import annotations

from collections.abc import Callable

from assistant.answering.intent import Intent, is_elliptical, own_words

CARRIED = ("lead", "coop", "units", "reverse_lead", "reverse_coop", "reverse_any", "target", "metadata")


def resolve(question: str, history: list[str], detect: Callable[[str], Intent]) -> tuple[Intent, str]:
    """(intent, retrieval query) for the question in the context of earlier user questions.

    A follow-up borrows what it lacks from the latest earlier turn: the subject
    (那配合单位有哪些？ → the measure asked about before) or the kind of question
    (独角兽培育企业呢？ after a target question → a target question about 独角兽培育企业).
    """
    intent = detect(question)
    if not history or intent.kind == "hostile":
        return intent, question
    previous, previous_query = resolve(history[-1], history[:-1], detect)
    if previous.kind in ("hostile", "chitchat"):
        return intent, question
    if intent.ordinal and intent.kind == "general":
        # 第三条具体讲的是什么？ → the third item of what was asked about before
        return intent.model_copy(update={"topic": previous.topic}), previous_query
    own_topic = _substantive(intent.topic)
    if intent.kind == previous.kind and intent.kind in CARRIED and len(own_topic.replace(" ", "")) < 5:
        # 那要净增多少家？ after 有效高新技术企业目标是多少家？: same subject, refined
        merged = intent.model_copy(update={"topic": f"{previous.topic} {own_topic}".strip(), "department": intent.department or previous.department})
        return merged, f"{previous_query} {question}"
    if not is_elliptical(question, intent):
        return intent, question
    if intent.kind in ("general", "chitchat") and previous.kind in CARRIED:
        # the same kind of question about a new subject or department
        merged = previous.model_copy(
            update={"topic": own_topic or previous.topic, "department": intent.department or previous.department}
        )
        return merged, (question if own_topic or intent.department else f"{previous_query} {question}")
    # a new kind of question about the previous subject
    merged = intent.model_copy(update={"topic": own_topic or previous.topic, "department": intent.department or previous.department})
    return merged, (question if own_topic else f"{previous_query} {question}")


def _substantive(topic: str) -> str:
    return topic if len(own_words(topic)) >= 2 else ""
