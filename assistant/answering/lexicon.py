"""Named text patterns kept as data (lexicon/*.tsv), one rule a row, each row with its own example.

A row is `name <TAB> pattern <TAB> example [<TAB> counter-example]`: the pattern is a regular expression,
the example a text it must match and the counter-example one it must not (tests/answering/test_lexicon.py
checks every row). Rows sharing a name are alternatives of one pattern. The rules say how questions are
worded (cues), what evidence a kind of fact needs, and how text is tidied; what a question is *about* is
linked to the knowledge base's own vocabulary instead (knowledge.py), never listed here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEXICON_DIR = Path(__file__).with_name("lexicon")


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    example: str
    counter: str
    source: str  # file:line, for test messages

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.I)


def read_rules(path: Path) -> list[Rule]:
    """Pure: the rows of one table (comments and blank lines skipped)."""
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) < 3:
            raise ValueError(f"{path.name}:{number}: a rule needs name, pattern and example")
        rules.append(Rule(cells[0].strip(), cells[1], cells[2], cells[3] if len(cells) > 3 else "", f"{path.name}:{number}"))
    return rules


class Lexicon:
    """All tables, each name compiled once into one alternation (case-insensitive: some cues are English)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        grouped: dict[str, list[str]] = {}
        for rule in rules:
            grouped.setdefault(rule.name, []).append(rule.pattern)
        self.patterns = {name: re.compile("|".join(f"(?:{p})" for p in parts), re.I) for name, parts in grouped.items()}

    def __getitem__(self, name: str) -> re.Pattern[str]:
        return self.patterns[name]

    def has(self, name: str, text: str) -> bool:
        return bool(self.patterns[name].search(text))

    def matching(self, prefix: str, text: str) -> list[str]:
        """Names under `prefix` (e.g. "focus.") whose pattern occurs in the text, in table order."""
        return [name for name, p in self.patterns.items() if name.startswith(prefix) and p.search(text)]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon([r for path in sorted(LEXICON_DIR.glob("*.tsv")) for r in read_rules(path)])


def pattern(name: str) -> re.Pattern[str]:
    return lexicon()[name]


@lru_cache(maxsize=None)
def words(name: str) -> frozenset[str]:
    """A word list (lexicon/<name>.txt): whitespace-separated words, # comments."""
    text = (LEXICON_DIR / f"{name}.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())
