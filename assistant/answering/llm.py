"""Optional LLM answers: the extractive assistant retrieves, an OpenAI-compatible model writes,
every sentence is verified against the clauses it cites.

What stays extractive, because it is exact there: structured questions (lead/coop/units,
reverse_*, target, metadata), hostile input, chit-chat, empty questions and refusals. For a
general question the model gets the very clauses the extractive answer cites (numbered the
same way), fitted into its context window. Whenever the model fails — an error, a timeout,
an answer with no valid citation — the extractive answer is returned with a notice.
"""
from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from assistant.answering.budget import clause_budget, counter_for, fit_clauses
from assistant.answering.intent import HOSTILE, clean_question
from assistant.answering.registry import exact_labels
from assistant.answering.service import MAX_QUESTION_CHARS, Assistant
from assistant.answering.verify import IncrementalVerifier, Sentence, check_sentence, is_refusal, supporting_sentence, unverified_notice
from assistant.models import Answer, Citation
from assistant.settings import Settings, get_settings

log = logging.getLogger(__name__)

NOTICE_UNAVAILABLE = "大模型暂不可用，已返回抽取式答案。"
NOTICE_TIMEOUT = "大模型响应超时，已返回抽取式答案。"
NOTICE_UNVERIFIABLE = "大模型的回答没有可核实的条款引用，已返回抽取式答案。"
NOTICE_NO_ROOM = "条款超出大模型的上下文长度，已返回抽取式答案。"
EXACT_INTENTS = exact_labels()  # the registry says which intents are exact look-ups (assistant/answering/registry.py)
MAX_CONDENSED_CHARS = 300
PLACEHOLDER_KEY = "EMPTY"  # OpenAI-compatible local servers (vLLM, Ollama) ignore the key but the client needs one


# -- prompts ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prompts:
    system: str
    answer: str
    clause: str
    condense: str
    refusal: str


PLACEHOLDERS = {
    "system": ("refusal",),
    "answer": ("question", "count", "clauses", "refusal"),
    "clause": ("n", "key", "doc_title", "path", "clause_id", "text"),
    "condense": ("history", "question"),
}


def load_prompts(directory: Path) -> Prompts:
    """The prompt files; a missing file or placeholder is a configuration error, reported early."""
    directory = Path(directory)
    texts = {}
    for name, suffix in [("system", "md"), ("answer", "md"), ("clause", "md"), ("condense", "md"), ("refusal", "txt")]:
        path = directory / f"{name}.{suffix}"
        if not path.is_file():
            raise FileNotFoundError(f"prompt file missing: {path}")
        texts[name] = path.read_text(encoding="utf-8").strip()
        absent = [p for p in PLACEHOLDERS.get(name, ()) if "{" + p + "}" not in texts[name]]
        if absent:
            raise ValueError(f"{path} lacks the placeholder(s) {', '.join('{' + p + '}' for p in absent)}")
    return Prompts(**texts)


def fill(template: str, **values: object) -> str:
    """Replace `{name}` placeholders only; values are inserted verbatim and never re-parsed."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def as_data(text: str) -> str:
    """Text for a data block: angle brackets become full-width, so it cannot open or close a block."""
    return text.replace("<", "＜").replace(">", "＞")


def render_clause(prompts: Prompts, n: int, key: str, citation: Citation, text: str) -> str:
    return fill(
        prompts.clause, n=n, key=key, doc_title=as_data(citation.doc_title or citation.doc), path=as_data(citation.title or citation.clause_id),
        clause_id=as_data(citation.clause_id), text=as_data(text),
    )


def evidence_of(citation: Citation, text: str) -> str:
    """What a sentence citing this clause may rely on: the text shown, its document and path."""
    return "\n".join([citation.doc_title, citation.title, citation.clause_id, text])


def standalone_question(content: object) -> str | None:
    """The condensed question out of a model reply, or None when the reply is unusable."""
    if not isinstance(content, str):
        return None
    content = re.sub(r"^\s*<think>.*?</think>", "", content, flags=re.S)
    line = next((l.strip() for l in content.strip().splitlines() if l.strip()), "")
    line = re.sub(r"^(改写后的问题|完整问题|问题)\s*[:：]\s*", "", line).strip().strip("“”\"'「」")
    if len(line) < 2 or len(line) > MAX_CONDENSED_CHARS or not re.search(r"[\u3400-\u9fff\w]", line) or HOSTILE.search(line):
        return None
    return clean_question(line)


def asked_question(question: str, history: list[str], base: Answer) -> str:
    """The question the model answers when no condensed one is at hand. The extractive resolution of a
    follow-up is a retrieval query, which may be the earlier question alone (第三条具体讲的是什么？ →
    基本原则有几条？): the follow-up itself is added, so the model is asked what the user asked."""
    own = clean_question(question)
    resolved = clean_question(base.resolved_question) if history else ""
    if not resolved or own in resolved:
        return resolved or own
    return f"{resolved} {own}"


def related_line(citations: list[Citation]) -> str:
    related = "；".join(f"[{c.n}] {c.title.split(' > ')[-1]}" for c in citations[:3])
    return f"\n相关条款：{related}" if related else ""


# -- streaming result -----------------------------------------------------------------------------
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


# -- the assistant --------------------------------------------------------------------------------
class LLMAssistant:
    """Same interface as `Assistant` (`run(question, history) -> Answer`), plus `stream`."""

    def __init__(self, index_dir: Path | None = None, settings: Settings | None = None, extractive: Assistant | None = None) -> None:
        self.settings = settings or get_settings()
        if not self.settings.llm_model:
            raise ValueError("LLMAssistant needs settings.llm_model (ASSISTANT_LLM_MODEL)")
        self.extractive = extractive or Assistant(index_dir, self.settings)
        self.prompts = load_prompts(self.settings.prompts_dir)
        self.count = counter_for(self.settings.llm_model)
        self._clients: dict[bool, object] = {}

    def __getattr__(self, name: str):
        # a drop-in for Assistant: index_dir, searcher, departments() … come from the extractive one
        if name == "extractive":
            raise AttributeError(name)
        return getattr(self.extractive, name)

    @property
    def model(self) -> str:
        return str(self.settings.llm_model)

    def _chat(self, streaming: bool):
        if streaming not in self._clients:
            from langchain_openai import ChatOpenAI

            s = self.settings
            self._clients[streaming] = ChatOpenAI(
                base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key or SecretStr(PLACEHOLDER_KEY), timeout=s.llm_timeout,
                max_retries=0, streaming=streaming, max_tokens=s.llm_max_answer_tokens, temperature=0,
                use_responses_api=False,  # OpenAI-compatible servers speak chat completions
            )
        return self._clients[streaming]

    # -- entry points ---------------------------------------------------------------------------
    def run(self, question: str, history: list[str] | None = None) -> Answer:
        return AnswerStream(self._respond(question, history, streaming=False)).final()

    def stream(self, question: str, history: list[str] | None = None) -> AnswerStream:
        return AnswerStream(self._respond(question, history, streaming=True))

    def _respond(self, question: str, history: list[str] | None, streaming: bool) -> Generator[str, None, Answer]:
        started = time.perf_counter()
        answer = yield from self._answer(question if isinstance(question, str) else "", [h for h in (history or []) if isinstance(h, str) and h.strip()], streaming)
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    # -- the flow -------------------------------------------------------------------------------
    def _answer(self, question: str, history: list[str], streaming: bool) -> Generator[str, None, Answer]:
        failure = None
        standalone = None
        if history and self._may_send(question):
            try:
                standalone = self._condense(question, history)
            except Exception as exc:  # any failure of the model falls back; never breaks answering
                failure = self._failure(exc, "condense")
        if standalone:
            base = self.extractive.run(standalone, []).model_copy(update={"question": question, "resolved_question": standalone})
        else:
            base = self.extractive.run(question, history)
        if set(base.intent.split("+")) <= EXACT_INTENTS or base.refused or not base.citations:  # "+": a compound question's parts
            yield base.answer
            return base
        if failure:
            return (yield from self._fallback(base, failure, shown=False))
        return (yield from self._generate(base, standalone or asked_question(question, history, base), streaming))

    def _may_send(self, question: str) -> bool:
        """Only questions the extractive side would treat as questions go to the model."""
        return bool(question.strip()) and len(question) <= MAX_QUESTION_CHARS and not HOSTILE.search(question)

    def _condense(self, question: str, history: list[str]) -> str | None:
        past = "\n".join(f"{i}. {as_data(clean_question(h)[:MAX_CONDENSED_CHARS])}" for i, h in enumerate(history[-6:], start=1))
        prompt = fill(self.prompts.condense, history=past, question=as_data(clean_question(question)))
        from langchain_core.messages import HumanMessage

        reply = self._chat(False).invoke([HumanMessage(prompt)], max_tokens=200)
        standalone = standalone_question(reply.content)
        if standalone is None:
            log.warning("follow-up condensation gave no usable question; using the extractive resolution")
        return standalone

    def _generate(self, base: Answer, asked: str, streaming: bool) -> Generator[str, None, Answer]:
        from langchain_core.messages import HumanMessage, SystemMessage

        prompts = self.prompts
        system = fill(prompts.system, refusal=prompts.refusal)
        key = secrets.token_hex(6)  # per request: a document cannot forge the closing tag
        frame = fill(prompts.answer, question=as_data(asked), count=len(base.citations), clauses="", refusal=prompts.refusal)
        budget = clause_budget(self.settings.llm_context_tokens, self.settings.llm_max_answer_tokens, self.count(system) + self.count(frame))
        fit = fit_clauses(
            base.citations, text_of=lambda c: c.text, render=lambda c, t: render_clause(prompts, c.n, key, c, t), budget=budget, count=self.count,
            key=lambda c: f"{c.doc}::{c.clause_id}",
        )
        if not fit.kept:
            return (yield from self._fallback(base, NOTICE_NO_ROOM, shown=False))
        given = [(c.model_copy(update={"n": n, "quotes": []}), text) for n, (c, text) in enumerate(fit.kept, start=1)]
        suspicious = [f"{c.doc}::{c.clause_id}" for c, text in given if HOSTILE.search(text)]
        if suspicious:  # still given, as data: the system prompt and verification cover it
            log.warning("clauses with instruction-like text (passed to the model as data only): %s", ", ".join(suspicious))
        blocks = "\n\n".join(render_clause(prompts, c.n, key, c, text) for c, text in given)
        user = fill(prompts.answer, question=as_data(asked), count=len(given), clauses=blocks, refusal=prompts.refusal)
        evidence = {c.n: evidence_of(c, text) for c, text in given}
        names, _ = self.extractive.departments()
        terms = self.extractive.searcher.lexical.tokenizer.tokens
        mode = self.settings.llm_unverified

        def check(sentence: Sentence):
            return check_sentence(sentence, evidence, mode, terms=terms, departments=names, refusal=prompts.refusal)

        verifier = IncrementalVerifier(check)
        thinking = ThinkFilter()
        shown = False
        try:
            chat = self._chat(streaming)
            replies = chat.stream([SystemMessage(system), HumanMessage(user)]) if streaming else [chat.invoke([SystemMessage(system), HumanMessage(user)])]
            for reply in replies:
                if not isinstance(reply.content, str):
                    raise NotText(type(reply.content).__name__)
                for piece in verifier.feed(thinking.feed(reply.content)):
                    shown = True
                    yield piece
            for piece in verifier.close():
                shown = True
                yield piece
        except Exception as exc:  # timeouts, HTTP errors, malformed replies: fall back, never fail
            return (yield from self._fallback(base, self._failure(exc, "answer"), shown))
        report = verifier.report
        citations = [c for c, _ in given]
        if not report.has_valid_citation:
            if any(c.structural and is_refusal(c.sentence.core, prompts.refusal) for c in report.checks):
                related = related_line(citations)
                yield related
                return Answer(question=base.question, answer=report.text + related, refused=True, citations=citations, intent=base.intent, resolved_question=base.resolved_question)
            log.warning("LLM answer has no valid citation (%d sentences); falling back", report.claims)
            return (yield from self._fallback(base, NOTICE_UNVERIFIABLE, shown))
        for check_ in report.checks:
            for n in check_.valid if check_.verdict == "kept" else ():
                quote = supporting_sentence(check_.sentence.core, given[n - 1][1], terms)
                if quote and quote not in citations[n - 1].quotes:
                    citations[n - 1].quotes.append(quote)
        if report.removed_markers:
            log.info("removed citation markers to clauses not given: %s", sorted(set(report.removed_markers)))
        return Answer(
            question=base.question, answer=report.text, citations=citations, intent=base.intent, resolved_question=base.resolved_question,
            notice=unverified_notice(report),
        )

    def _fallback(self, base: Answer, notice: str, shown: bool) -> Generator[str, None, Answer]:
        answer = base.model_copy(update={"notice": "\n".join(n for n in (base.notice, notice) if n)})
        if not shown:
            yield answer.answer
        return answer

    def _failure(self, exc: Exception, stage: str) -> str:
        """The notice for a failed model call. Only the error's type and status are logged: an
        error message may quote request details."""
        status = getattr(exc, "status_code", None)
        log.warning("LLM %s call failed: %s%s", stage, type(exc).__name__, f" (HTTP {status})" if status else "")
        timed_out = any("timeout" in t.__name__.lower() for t in type(exc).__mro__)
        return NOTICE_TIMEOUT if timed_out else NOTICE_UNAVAILABLE
