"""Whether the model's reply is shown, or the extractive answer with a notice that says why (pure).

A reply is shown only when it is better-founded than the extractive answer it would replace: at
least one verified sentence, and verified sentences at least `llm_min_verified_share` of the
claims' text. Before that, a reply that repeats the prompt back (a small or base model does: each
echoed rule then carries the prompt's own markers) is a failed reply, whatever it cites. A streamed
reply goes through the same judgement, on the text so far while it streams and on the whole at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

from assistant.answering.lexicon import pattern
from assistant.answering.verify import MARKER, Report, is_refusal
from assistant.ingestion.text import fold

NOTICE_UNAVAILABLE = "大模型暂不可用，已返回抽取式答案。"
NOTICE_TIMEOUT = "大模型响应超时，已返回抽取式答案。"
NOTICE_INTERRUPTED = "大模型的回答中途中断，已返回抽取式答案。"
NOTICE_EMPTY = "大模型返回了空回答，已返回抽取式答案。"
NOTICE_ECHO = "大模型复述了给它的指令而没有回答问题，已返回抽取式答案。"
NOTICE_UNVERIFIABLE = "大模型的回答没有可核实的条款引用，已返回抽取式答案。"
NOTICE_ALL_DROPPED = "大模型回答的每一句都未能在所引条款中核实，删除后没有剩下内容，已返回抽取式答案。"
NOTICE_NO_ROOM = "条款超出大模型的上下文长度，已返回抽取式答案。"
ECHO_CHARS = 16  # characters in a row shared with the prompt's own wording: a rule repeated, not an answer


def notice_too_little(verified: int, claims: int, share: float, wanted: float) -> str:
    return f"大模型的回答中能在所引条款中核实的内容太少（{claims} 句中 {verified} 句，占 {share:.0%}，要求至少 {wanted:.0%}），已返回抽取式答案。"


def squeeze(text: str) -> str:
    """What echo detection compares: folded text without markers and whitespace."""
    return pattern("spaces").sub("", fold(MARKER.sub("", text)))


class EchoDetector:
    """Finds a reply that repeats the prompts' own wording. Only the literal text of the templates
    counts — never what is filled into them (clauses, the question) — and the prescribed refusal
    is left out, since the model is asked to say exactly that."""

    def __init__(self, templates: list[str], refusal: str, size: int = ECHO_CHARS) -> None:
        self.size = size
        refused = squeeze(refusal)
        self._grams: set[str] = set()
        for template in templates:
            for piece in pattern("placeholder").split(template):
                text = squeeze(piece).replace(refused, "\x00") if refused else squeeze(piece)
                self._grams.update(text[i : i + size] for i in range(len(text) - size + 1))
        self._grams = {g for g in self._grams if "\x00" not in g}

    def echoes(self, reply: str) -> bool:
        text = squeeze(reply)
        return any(text[i : i + self.size] in self._grams for i in range(len(text) - self.size + 1))


@dataclass(frozen=True)
class Share:
    """Characters of verified claims and of all claims (marked and dropped ones included)."""

    verified_sentences: int
    claims: int
    verified_chars: int
    claim_chars: int

    @property
    def value(self) -> float:
        return self.verified_chars / self.claim_chars if self.claim_chars else 0.0


def share_of(report: Report) -> Share:
    claims = [c for c in report.checks if not c.structural]
    kept = [c for c in claims if c.verdict == "kept"]
    return Share(len(kept), len(claims), sum(len(c.sentence.core) for c in kept), sum(len(c.sentence.core) for c in claims))


def refused(report: Report, refusal: str) -> bool:
    """The model gave the prescribed refusal and cited nothing."""
    return not report.has_valid_citation and any(c.structural and is_refusal(c.sentence.core, refusal) for c in report.checks)


def judge(reply: str, report: Report, echo: EchoDetector, min_share: float) -> str | None:
    """None when the reply may be shown; otherwise the notice naming why it may not. `reply` is the
    model's text (after any <think> block), `report` its verification."""
    if not reply.strip() or not any(c.sentence.core for c in report.checks):
        return NOTICE_EMPTY
    if echo.echoes(reply):
        return NOTICE_ECHO
    if not any(c.valid for c in report.checks):
        return NOTICE_UNVERIFIABLE
    share = share_of(report)
    if share.verified_sentences == 0 and report.dropped and not report.marked:
        return NOTICE_ALL_DROPPED
    if share.verified_sentences == 0 or share.value < min_share:
        return notice_too_little(share.verified_sentences, share.claims, share.value, min_share)
    return None
