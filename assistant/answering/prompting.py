"""The prompts of LLM mode (files in prompts/, ASSISTANT_PROMPTS_DIR) and the data put into them
(pure functions): placeholders are filled verbatim, clause text and the question go into delimited
data blocks, and a condensed follow-up is taken out of the model's reply only when it is usable."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.answering.intent import HOSTILE, clean_question
from assistant.answering.lexicon import pattern
from assistant.models import Answer, Citation

MAX_CONDENSED_CHARS = 300


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
    return pattern("placeholder").sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


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
    content = pattern("llm.think_block").sub("", content)
    line = next((l.strip() for l in content.strip().splitlines() if l.strip()), "")
    line = pattern("llm.condensed_prefix").sub("", line).strip().strip("“”\"'「」")
    if len(line) < 2 or len(line) > MAX_CONDENSED_CHARS or not pattern("wordy").search(line) or HOSTILE.search(line):
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
