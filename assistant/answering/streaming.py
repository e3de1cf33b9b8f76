"""The streamed form of an LLM answer, and the filter for a reasoning model's <think> block."""
from __future__ import annotations

from collections.abc import Generator, Iterator

from assistant.models import Answer


class AnswerStream:
    """Iterate for text deltas (verified sentences, as they complete); once exhausted, `answer`
    holds the final Answer. When the model failed after some text was shown, the final answer
    is the extractive one: `replaced` says the shown text must be swapped for `answer.answer`."""

    def __init__(self, generator: Generator[str, None, Answer]) -> None:
        self._generator = generator
        self.answer: Answer | None = None
        self.deltas: list[str] = []

    def __iter__(self) -> Iterator[str]:
        while self.answer is None:
            try:
                delta = next(self._generator)
            except StopIteration as stop:
                self.answer = stop.value
                return
            self.deltas.append(delta)
            yield delta

    def final(self) -> Answer:
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer

    @property
    def replaced(self) -> bool:
        return self.answer is not None and "".join(self.deltas).strip() != self.answer.answer.strip()


class NotText(ValueError):
    """The model replied with something other than text."""


class ThinkFilter:
    """Drops a leading <think>…</think> block, which reasoning models (Qwen3, DeepSeek-R1) served
    without a reasoning parser put before the answer: it is not part of the answer to verify."""

    def __init__(self) -> None:
        self._head = ""
        self._done = False
        self._strip = False  # after the block: its trailing blank lines may come in later deltas

    def feed(self, delta: str) -> str:
        if self._done:
            if self._strip:
                delta = delta.lstrip()
                self._strip = not delta
            return delta
        self._head += delta
        head = self._head.lstrip()
        if "<think>".startswith(head) and len(head) < len("<think>"):
            return ""  # too early to tell
        if not head.startswith("<think>"):
            self._done = True
            return self._head
        end = head.find("</think>")
        if end < 0:
            return ""
        self._done = True
        rest = head[end + len("</think>") :].lstrip()
        self._strip = not rest
        return rest
