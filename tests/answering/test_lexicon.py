"""Every rule of the pattern tables is tested by its own example (and counter-example)."""
from __future__ import annotations

import re

import pytest

from assistant.answering.lexicon import LEXICON_DIR, Lexicon, lexicon, read_rules, words

RULES = [r for path in sorted(LEXICON_DIR.glob("*.tsv")) for r in read_rules(path)]


def unescape(text: str) -> str:
    """Examples write control characters as \\xNN or \\uNNNN."""
    return re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})", lambda m: chr(int(m.group(1)[1:], 16)), text)


@pytest.mark.parametrize("rule", RULES, ids=[f"{r.source} {r.name}" for r in RULES])
def test_each_rule_matches_its_example_and_not_its_counter_example(rule):
    compiled = rule.compiled()
    assert compiled.search(unescape(rule.example)), f"{rule.source}: {rule.pattern!r} misses its example {rule.example!r}"
    if rule.counter:
        assert not compiled.search(unescape(rule.counter)), f"{rule.source}: {rule.pattern!r} matches its counter-example {rule.counter!r}"


def test_rules_of_one_name_form_one_pattern():
    lex = lexicon()
    assert lex.has("role.lead", "这项工作谁负责") and lex.has("role.lead", "归谁管") and not lex.has("role.lead", "由市人社局负责解释")
    assert lex.matching("focus.", "补贴什么时候发到手上") == ["focus.date"]  # 补贴 here is the subject, not the fact asked for
    assert lex.matching("focus.", "买车有补贴吗") == ["focus.subsidy"]


def test_every_kind_of_fact_asked_has_evidence_to_look_for():
    names = {r.name for r in RULES}
    asked = {n.removeprefix("focus.") for n in names if n.startswith("focus.")}
    evidenced = {n.removeprefix("evidence.") for n in names if n.startswith("evidence.")}
    assert asked == evidenced


def test_a_table_row_needs_an_example(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("# comment\nname\tpattern-without-example\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        read_rules(bad)
    good = tmp_path / "good.tsv"
    good.write_text("x\ta|b\tb\n", encoding="utf-8")
    assert Lexicon(read_rules(good)).has("x", "b")


def test_word_lists_are_read_as_sets():
    assert "请问" in words("form_words") and "#" not in words("form_words")
