"""Optional LLM answers: the extractive assistant retrieves, an OpenAI-compatible model writes,
every sentence is verified against the clauses it cites.

What stays extractive, because it is exact there: structured questions (lead/coop/units,
reverse_*, target, metadata), hostile input, chit-chat, empty questions and refusals. For a
general question the model gets the very clauses the extractive answer cites (numbered the
same way), fitted into its context window. The reply is shown only when it passes the rules of
reply.py (enough of it verified, not an echo of the prompt); whenever the model fails — an error, a
timeout, a cut stream, an empty, unfounded or echoed reply — the extractive answer is returned with a
notice that names the cause.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Generator
from pathlib import Path

from pydantic import SecretStr

from assistant.answering.budget import clause_budget, counter_for, fit_clauses
from assistant.answering.intent import HOSTILE, clean_question
from assistant.answering.prompting import (  # noqa: F401  (re-exported: the public names of LLM mode)
    MAX_CONDENSED_CHARS, Prompts, as_data, asked_question, evidence_of, fill, load_prompts, related_line, render_clause, standalone_question,
)
from assistant.answering.registry import exact_labels
from assistant.answering.reply import (  # noqa: F401
    NOTICE_ALL_DROPPED, NOTICE_ECHO, NOTICE_EMPTY, NOTICE_INTERRUPTED, NOTICE_NO_ROOM, NOTICE_TIMEOUT, NOTICE_UNAVAILABLE, NOTICE_UNVERIFIABLE,
    EchoDetector, judge, refused,
)
from assistant.answering.service import MAX_QUESTION_CHARS, Assistant
from assistant.answering.streaming import AnswerStream, NotText, ThinkFilter  # noqa: F401
from assistant.answering.verify import IncrementalVerifier, Sentence, check_sentence, supporting_sentence, unverified_notice
from assistant.models import Answer
from assistant.settings import Settings, get_settings

log = logging.getLogger(__name__)

EXACT_INTENTS = exact_labels()  # the registry says which intents are exact look-ups (assistant/answering/registry.py)
PLACEHOLDER_KEY = "EMPTY"  # OpenAI-compatible local servers (vLLM, Ollama) ignore the key but the client needs one


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
        self.echo = EchoDetector([self.prompts.system, self.prompts.answer, self.prompts.clause, self.prompts.condense], self.prompts.refusal)
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
        reply, pending, shown = "", [], False
        try:
            chat = self._chat(streaming)
            messages = [SystemMessage(system), HumanMessage(user)]
            for delta in chat.stream(messages) if streaming else self._whole_reply(chat, messages):
                if not isinstance(delta.content, str):
                    raise NotText(type(delta.content).__name__)
                text = thinking.feed(delta.content)
                reply += text
                pending += verifier.feed(text)
                # a streamed reply is shown once the text so far passes the rules a whole reply must pass
                if pending and (shown or self._judge(reply, verifier) is None):
                    yield "".join(pending)
                    pending, shown = [], True
            pending += verifier.close()
        except Exception as exc:  # timeouts, HTTP errors, malformed replies, a cut stream: fall back, never fail
            return (yield from self._fallback(base, self._failure(exc, "answer", started=bool(reply.strip())), shown))
        report = verifier.report
        citations = [c for c, _ in given]
        if refused(report, prompts.refusal) and not self.echo.echoes(reply):
            related = related_line(citations)
            yield "".join(pending) + related
            return Answer(question=base.question, answer=report.text + related, refused=True, citations=citations, intent=base.intent, resolved_question=base.resolved_question)
        failed = self._judge(reply, verifier)
        if failed:
            log.warning("LLM answer not shown (%d sentences): %s", report.claims, failed)
            return (yield from self._fallback(base, failed, shown))
        if pending:
            yield "".join(pending)
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

    @staticmethod
    def _whole_reply(chat, messages) -> list:
        """The one message of a plain reply; a reply with no `choices` is an empty one (`invoke` would raise IndexError)."""
        from langchain_core.messages import AIMessage

        generations = chat.generate([messages]).generations[0]
        return [generations[0].message if generations else AIMessage("")]

    def _judge(self, reply: str, verifier: IncrementalVerifier) -> str | None:
        return judge(reply, verifier.report, self.echo, self.settings.llm_min_verified_share)

    def _fallback(self, base: Answer, notice: str, shown: bool) -> Generator[str, None, Answer]:
        answer = base.model_copy(update={"notice": "\n".join(n for n in (base.notice, notice) if n)})
        if not shown:
            yield answer.answer
        return answer

    def _failure(self, exc: Exception, stage: str, started: bool = False) -> str:
        """The notice for a failed model call (`started`: after part of the reply came). Only the
        error's type and status are logged: an error message may quote request details."""
        status = getattr(exc, "status_code", None)
        log.warning("LLM %s call failed: %s%s", stage, type(exc).__name__, f" (HTTP {status})" if status else "")
        timed_out = any("timeout" in t.__name__.lower() for t in type(exc).__mro__)
        return NOTICE_TIMEOUT if timed_out else NOTICE_INTERRUPTED if started else NOTICE_UNAVAILABLE
