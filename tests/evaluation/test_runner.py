from __future__ import annotations

import json

from assistant.interfaces.cli import main
from tests.conftest import KNOWLEDGE, ROOT


def test_eval_writes_report_with_baselines(plan_index, tmp_path, capsys):
    out = tmp_path / "out"
    status = main([
        "eval", "--questions", str(ROOT / "eval" / "questions.jsonl"), "--knowledge", str(KNOWLEDGE), "--index", str(plan_index),
        "--out", str(out), "--systems", "assistant,bm25,dense,naive", "--limit", "60", "--fail-under", "hit@1=0.9",
    ])
    assert status == 0
    report = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    names = [s["name"] for s in report["systems"]]
    assert names == ["assistant", "bm25-only", "dense-only", "naive-langchain"]
    assert report["systems"][0]["overall"]["hit@1"] >= 0.9
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "| hit@1 |" in text and "naive-langchain" in text
    for chart in ("systems.png", "latency.png", "categories.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_broken_retriever_fails_the_gate(plan_index, tmp_path, capsys):
    status = main([
        "eval", "--knowledge", str(KNOWLEDGE), "--index", str(plan_index), "--out", str(tmp_path / "o"),
        "--systems", "random", "--fail-under", "hit@1=0.9", "--fail-under", "hit@5=0.95",
    ])
    assert status == 1
    assert "FAIL questions.jsonl: hit@1" in capsys.readouterr().err
