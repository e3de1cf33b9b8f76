"""The shape issue 12 set for assistant/answering/: small modules, patterns as data."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

ANSWERING = ROOT / "assistant" / "answering"
RE_CALLS = {"compile", "search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def regex_literals(path: Path) -> int:
    """Calls like re.search(r"…", …): a pattern written in code rather than in lexicon/*.tsv."""
    count = 0
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RE_CALLS:
            target = node.func.value
            if isinstance(target, ast.Name) and target.id == "re" and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                count += 1
    return count


def test_modules_are_small():
    sizes = {p.relative_to(ANSWERING).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in ANSWERING.rglob("*.py")}
    assert sizes["service.py"] <= 250
    assert {name: n for name, n in sizes.items() if n > 300} == {}


def test_patterns_live_in_data_files():
    counts = {p.relative_to(ANSWERING).as_posix(): regex_literals(p) for p in ANSWERING.rglob("*.py")}
    assert sum(counts.values()) <= 25, counts
    handlers = {name: n for name, n in counts.items() if name.startswith(("handlers/", "service", "plan", "state", "evidence", "knowledge"))}
    assert sum(handlers.values()) == 0, handlers
    llm_mode = {name: n for name, n in counts.items() if name.startswith(("llm", "verify", "budget", "prompting", "reply", "streaming"))}
    assert sum(llm_mode.values()) == 0, llm_mode


def test_the_counter_sees_a_literal(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text('import re\nre.search(r"a|b", "a")\nP = "x"\nre.sub(P, "", "x")\n', encoding="utf-8")
    assert regex_literals(sample) == 1
