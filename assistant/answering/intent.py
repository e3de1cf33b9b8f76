"""Question text as the answerer reads it: cleaned of markup and control characters, in simplified
characters; and the hostile-input check every entry point applies first."""
from __future__ import annotations

from assistant.answering.lexicon import pattern

HOSTILE = pattern("hostile")  # instructions to the assistant, probes for secrets, injection payloads (lexicon/cues.tsv)
MIN_CONVERTED = 2  # a single converted character is left alone: reprints keep a stray 後 the documents also have


def clean_question(text: str) -> str:
    """Strip markup and control characters, fold whitespace."""
    text = pattern("markup").sub(" ", text)
    text = pattern("control").sub("", text)
    return pattern("spaces").sub(" ", text).strip()


def to_simplified(text: str) -> str:
    """A question typed in traditional characters (獨角獸培育企業), as the simplified text the policies use."""
    import zhconv

    converted = zhconv.convert(text, "zh-cn")
    return converted if sum(a != b for a, b in zip(text, converted)) >= MIN_CONVERTED else text
