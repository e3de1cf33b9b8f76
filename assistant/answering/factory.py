"""Which answerer serves: extractive by default, the LLM backend when a model is configured."""
from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Protocol

from assistant.answering.service import Assistant
from assistant.models import Answer
from assistant.settings import Settings, get_settings


class Answerer(Protocol):
    def run(self, question: str, history: list[str] | None = None) -> Answer: ...


def llm_configured(settings: Settings) -> bool:
    """The LLM backend is opt-in: on when a model name is set (the base URL defaults to OpenAI's)."""
    return bool(settings.llm_model)


def answer_mode(settings: Settings | None = None) -> str:
    """For the UI: "extractive" or "llm:<model>"."""
    settings = settings or get_settings()
    return f"llm:{settings.llm_model}" if llm_configured(settings) else "extractive"


def get_answerer(index_dir: Path | None = None, settings: Settings | None = None) -> Answerer:
    settings = settings or get_settings()
    if not llm_configured(settings):
        return Assistant(index_dir, settings)
    from assistant.answering.llm import LLMAssistant  # imports langchain-openai only when used

    return LLMAssistant(index_dir, settings)


def stream_answer(answerer: Answerer, question: str, history: list[str] | None = None):
    """An AnswerStream for either backend: the extractive one yields its answer in one piece."""
    from assistant.answering.llm import AnswerStream

    stream = getattr(answerer, "stream", None)
    if stream is not None:
        return stream(question, history)

    def whole() -> Generator[str, None, Answer]:
        answer = answerer.run(question, history)
        yield answer.answer
        return answer

    return AnswerStream(whole())
