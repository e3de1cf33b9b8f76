"""Matching a question's characters against headings and titles: Chinese characters only, shared trigrams, longest shared runs."""
from __future__ import annotations

from assistant.answering.lexicon import pattern


def cjk_only(text: str) -> str:
    """Headings are matched on their Chinese characters: numbering and years say nothing of the subject."""
    return "".join(pattern("cjk").findall(text))


def trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def longest_common_substring(a: str, b: str) -> str:
    """The longest substring of `a` that is also in `b` (the first of equal length)."""
    best = ""
    for i in range(len(a)):
        length = len(best) + 1
        while i + length <= len(a) and a[i : i + length] in b:
            best = a[i : i + length]
            length += 1
    return best


def longest_common_run(a: str, b: str) -> int:
    return len(longest_common_substring(a, b))
