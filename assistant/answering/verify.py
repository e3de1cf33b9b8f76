"""Checking an LLM answer against the clauses it was given (pure functions).

Every sentence must cite with [n] the clauses it relies on, and those clauses must support it:
its numbers (exactly), percentages, department names and quoted terms must occur in the cited
texts, and enough of its content words too. Markers to clauses that were not given are removed.
A sentence that fails is marked 未核实 or dropped. Whatever a model is talked into saying — by a
document that carries instructions, say — it cannot pass as verified unless the cited clause
text says it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from assistant.answering.lexicon import pattern
from assistant.ingestion.text import fold

UNVERIFIED = "（未核实）"
SUPPORT_THRESHOLD = 0.6  # share of a sentence's content words the cited clauses must contain

_BRACKETS = str.maketrans({"【": "[", "】": "]", "［": "[", "］": "]"})
MARKER = pattern("llm.marker")
# a sentence: text up to an end mark (and closing quotes), then any markers written after the mark
_SENTENCE = pattern("llm.sentence")
_END = pattern("llm.sentence_end")
_BULLET = pattern("llm.bullet")
NUMBER = pattern("llm.number")
DEPARTMENT = pattern("llm.department")
QUOTED = pattern("llm.quoted")
_SEPARATOR = pattern("llm.marker_separator")
# words an answer uses to talk about the clauses, not claims about policy
META_WORDS = frozenset(
    """根据 依据 按照 条款 规定 提出 提到 明确 指出 表示 写明 要求 文件 政策 行动计划 本计划 计划中 其中 包括 主要 相关 内容 方面 以及
    如下 以下 下列 具体 措施 举措 可以 需要 通过 进行 开展 加强 支持 总之 综上 因此 另外 此外 同时""".split()
)


@lru_cache(maxsize=1)
def _default_tokenizer():
    from assistant.retrieval.tokenize import Tokenizer

    return Tokenizer()


def default_terms(text: str) -> list[str]:
    """Content words as the retrieval side sees them (jieba with the policy vocabulary)."""
    return _default_tokenizer().tokens(text)


Terms = Callable[[str], Iterable[str]]


@dataclass(frozen=True)
class Sentence:
    text: str  # as written, markers included
    sep: str = ""  # the whitespace after it

    @property
    def markers(self) -> tuple[int, ...]:
        return tuple(int(n) for group in MARKER.findall(self.text) for n in _SEPARATOR.split(group))

    @property
    def core(self) -> str:
        """The claim: no markers, no bullet."""
        return _BULLET.sub("", MARKER.sub("", self.text)).strip()


def normalize_markers(text: str) -> str:
    return text.translate(_BRACKETS)


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with the markers that follow them: “…牵头[1]。” and “…牵头。[1]” both keep [1]."""
    text = normalize_markers(text)
    out = []
    for m in _SENTENCE.finditer(text):
        piece = m.group(0)
        if not piece:
            continue
        body = piece.rstrip()
        sep = piece[len(body) :]
        if body.strip():
            out.append(Sentence(body, sep))
        elif out:
            out[-1] = Sentence(out[-1].text, out[-1].sep + sep)
    return out


def is_structural(sentence: Sentence, refusal: str = "") -> bool:
    """A lead-in (“主要措施如下：”) or the prescribed refusal: no claim of its own to check."""
    core = sentence.core
    if not core or not pattern("wordy").search(core):
        return True
    if refusal and is_refusal(core, refusal):
        return True
    return not sentence.markers and bool(pattern("llm.lead_in").search(core)) and len(core) <= 30 and not NUMBER.search(core)


def is_refusal(text: str, refusal: str) -> bool:
    """The prescribed refusal, allowing a few words around it (“抱歉，…”)."""
    said, wanted = fold(MARKER.sub("", text)).rstrip("。."), fold(refusal).rstrip("。.")
    return bool(wanted) and wanted in said and len(said) <= len(wanted) + 12


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(pattern("llm.thousands_comma").sub("", fold(text))))


@dataclass(frozen=True)
class Support:
    """How well an evidence text supports a claim."""

    missing: tuple[str, ...]  # numbers, departments, quoted terms not in the evidence
    found_terms: int
    total_terms: int

    @property
    def share(self) -> float:
        return self.found_terms / self.total_terms if self.total_terms else 1.0

    def ok(self, threshold: float = SUPPORT_THRESHOLD) -> bool:
        return not self.missing and self.share >= threshold


def support(claim: str, evidence: str, terms: Terms = default_terms, departments: Iterable[str] = ()) -> Support:
    """Check a claim (a sentence without markers) against evidence text."""
    ev = fold(evidence).lower()
    folded = fold(claim).lower()
    known = numbers(evidence)
    known |= {n.rstrip("%") for n in known}  # “4.5” is what “4.5%” says; the reverse does not hold
    missing = [n for n in sorted(numbers(claim)) if n not in known]
    names = set(DEPARTMENT.findall(folded)) | {fold(d).lower() for d in departments if len(d) >= 3 and fold(d).lower() in folded}
    missing += sorted(n for n in names if n not in ev)
    missing += sorted(q for q in {fold(x).lower() for x in QUOTED.findall(claim)} if q not in ev)
    words = {t for t in terms(folded) if len(t) >= 2 and t not in META_WORDS and not NUMBER.fullmatch(t)}
    found = sum(1 for t in words if t in ev)
    return Support(tuple(dict.fromkeys(missing)), found, len(words))


Verdict = Literal["kept", "marked", "dropped"]


@dataclass(frozen=True)
class Check:
    sentence: Sentence
    valid: tuple[int, ...]  # its markers that point at given clauses
    removed: tuple[int, ...]  # its markers that point elsewhere (removed from the text)
    support: Support | None  # None: structural, or no valid marker
    structural: bool
    verdict: Verdict

    @property
    def supported(self) -> bool:
        return self.verdict == "kept"

    def render(self) -> str:
        """The sentence as shown: unknown markers removed, 未核实 added when marked."""
        if self.verdict == "dropped":
            return ""
        text = MARKER.sub(lambda m: "".join(f"[{n}]" for n in _numbers_of(m.group(1)) if n in self.valid), self.sentence.text)
        if self.verdict == "marked":
            end = _END.search(text)
            text = text[: end.start()] + UNVERIFIED + text[end.start() :] if end else text + UNVERIFIED
        return text + self.sentence.sep


def _numbers_of(group: str) -> list[int]:
    return [int(n) for n in _SEPARATOR.split(group)]


def check_sentence(
    sentence: Sentence, clauses: Mapping[int, str], mode: Literal["mark", "drop"] = "mark", *,
    terms: Terms = default_terms, departments: Iterable[str] = (), threshold: float = SUPPORT_THRESHOLD, refusal: str = "",
) -> Check:
    """One sentence against the clauses (number → evidence text) it was given."""
    valid = tuple(dict.fromkeys(n for n in sentence.markers if n in clauses))
    removed = tuple(dict.fromkeys(n for n in sentence.markers if n not in clauses))
    if is_structural(sentence, refusal):
        return Check(sentence, valid, removed, None, True, "kept")
    found = support(sentence.core, "\n".join(clauses[n] for n in valid), terms, departments) if valid else None
    ok = found is not None and found.ok(threshold)
    verdict: Verdict = "kept" if ok else "marked" if mode == "mark" else "dropped"
    return Check(sentence, valid, removed, found, False, verdict)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def _texts(self, verdict: Verdict) -> list[str]:
        return [c.sentence.core for c in self.checks if c.verdict == verdict and not c.structural]

    @property
    def kept(self) -> list[str]:
        return self._texts("kept")

    @property
    def marked(self) -> list[str]:
        return self._texts("marked")

    @property
    def dropped(self) -> list[str]:
        return self._texts("dropped")

    @property
    def removed_markers(self) -> list[int]:
        return [n for c in self.checks for n in c.removed]

    @property
    def cited(self) -> list[int]:
        """Clauses cited by the sentences that remain in the answer."""
        return sorted({n for c in self.checks if c.verdict != "dropped" for n in c.valid})

    @property
    def has_valid_citation(self) -> bool:
        return any(c.valid for c in self.checks if c.verdict != "dropped")

    @property
    def claims(self) -> int:
        return sum(1 for c in self.checks if not c.structural)

    @property
    def text(self) -> str:
        return "".join(c.render() for c in self.checks).strip()


def verify(
    text: str, clauses: Mapping[int, str], mode: Literal["mark", "drop"] = "mark", *,
    terms: Terms = default_terms, departments: Iterable[str] = (), threshold: float = SUPPORT_THRESHOLD, refusal: str = "",
) -> Report:
    """Check every sentence of an answer; `report.text` is the answer to show."""
    return Report([check_sentence(s, clauses, mode, terms=terms, departments=departments, threshold=threshold, refusal=refusal) for s in split_sentences(text)])


def unverified_notice(report: Report) -> str:
    """For Answer.notice: the sentences marked 未核实, or how many were dropped."""
    parts = []
    if report.marked:
        parts.append("以下内容未能在所引条款中核实，请以条款原文为准：" + "；".join(f"“{s}”" for s in report.marked))
    if report.dropped:
        parts.append(f"大模型回答中有 {len(report.dropped)} 句未能在所引条款中核实，已删除。")
    return "\n".join(parts)


class IncrementalVerifier:
    """Verifies a streamed answer sentence by sentence. `feed` yields the rendered sentences that
    are complete — a sentence is complete once text that is not one of its markers follows it —
    and `close` the rest; joined, they equal `report.text` (up to surrounding whitespace)."""

    _PARTIAL_MARKER = pattern("llm.partial_marker")

    def __init__(self, check: Callable[[Sentence], Check]) -> None:
        self._check = check
        self._buffer = ""
        self.report = Report()

    def feed(self, delta: str) -> Iterator[str]:
        self._buffer = normalize_markers(self._buffer + delta)
        if not self.report.checks:
            self._buffer = self._buffer.lstrip()  # sentence lengths below then add up to the buffer's
        sentences = split_sentences(self._buffer)
        # the last sentence may still grow; so may the one before it while a marker is half written
        hold = 2 if sentences and self._PARTIAL_MARKER.fullmatch(sentences[-1].text) else 1
        ready = sentences[:-hold]
        self._buffer = self._buffer[sum(len(s.text) + len(s.sep) for s in ready) :]
        yield from self._emit(ready)

    def close(self) -> Iterator[str]:
        pieces = list(self._emit(split_sentences(self._buffer)))
        self._buffer = ""
        if pieces:
            pieces[-1] = pieces[-1].rstrip()
        yield from (p for p in pieces if p)

    def _emit(self, sentences: list[Sentence]) -> Iterator[str]:
        for sentence in sentences:
            check = self._check(sentence)
            self.report.checks.append(check)
            piece = check.render()
            if piece:
                yield piece


def supporting_sentence(claim: str, clause_text: str, terms: Terms = default_terms) -> str:
    """The sentence of a clause that shares the most content words with a claim (shown as the
    quote the answer relies on)."""
    from assistant.ingestion.text import split_sentences as spans

    words = {t for t in terms(fold(claim).lower()) if len(t) >= 2}
    best, score = "", -1
    for a, b in spans(clause_text):
        sentence = clause_text[a:b]
        s = sum(1 for t in words if t in fold(sentence).lower())
        if s > score:
            best, score = sentence, s
    return best
