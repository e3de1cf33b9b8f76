from __future__ import annotations

import io
import json
import shutil
import sys

import pytest

from assistant.interfaces.cli import main
from tests.conftest import PLAN
from tests.fixtures_openai import FakeOpenAI, Reply, chunk


def test_ingest_prints_a_summary(plan_index_copy, tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    (kb / "empty.txt").write_bytes(b"")
    assert main(["ingest", "--knowledge", str(kb), "--index", str(plan_index_copy), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "documents: 1" in out and "unchanged: 1" in out and "embedded: 0" in out and "seconds:" in out
    assert "未能入库：empty.txt：空文件" in out


def test_ingest_with_no_valid_document_exits_2_and_lists_each_file(plan_index_copy, tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "empty.txt").write_bytes(b"")
    (kb / "scan.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    builds = sorted(p.name for p in plan_index_copy.glob("build-*"))
    assert main(["ingest", "--knowledge", str(kb), "--index", str(plan_index_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "没有可入库的政策文件" in err and "empty.txt：空文件" in err and "scan.pdf：" in err and "PDF" in err
    assert "Traceback" not in err and "max()" not in err
    assert sorted(p.name for p in plan_index_copy.glob("build-*")) == builds


def test_ingest_refuses_a_missing_knowledge_dir(tmp_path, capsys):
    assert main(["ingest", "--knowledge", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), "--quiet"]) == 2
    assert "knowledge directory not found" in capsys.readouterr().err


def test_clauses_json(capsys):
    assert main(["clauses", "--doc", PLAN.stem, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(set(r) == {"doc", "clause_id", "title", "text", "lead_units", "coop_units"} for r in rows)
    taiwan = next(r for r in rows if r["clause_id"] == "四.(五).19")
    assert taiwan["lead_units"] == ["市委台办"] and "团市委" in taiwan["coop_units"]
    assert taiwan["title"].endswith("19. 深化对台人才科创合作")
    assert main(["clauses", "--doc", "no-such-doc"]) == 2


def test_departments_json(capsys):
    assert main(["departments", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert [m["clause_id"] for m in rows["市委台办"]["leads"]] == ["四.(五).19"]
    assert rows["市委人才办"]["aliases"] == ["市委组织部", "市委组织部(人才办)"]


# -- ask in LLM mode, against the loopback fake of the OpenAI API ----------------------------------------
LLM_QUESTION = "来昆山工作的人才，孩子上学和看病有什么保障？"
LLM_KEY = "sk-cli-test-SECRET-0123456789"


@pytest.fixture()
def llm_server(monkeypatch):
    """A FakeOpenAI configured through the environment, as a user would (ASSISTANT_LLM_*)."""
    from assistant.settings import get_settings

    with FakeOpenAI() as server:
        monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("ASSISTANT_LLM_MODEL", "cli-test-model")
        monkeypatch.setenv("ASSISTANT_LLM_API_KEY", LLM_KEY)
        monkeypatch.setenv("ASSISTANT_LLM_TIMEOUT", "5")
        get_settings.cache_clear()
        try:
            yield server
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def cited(plan_index) -> int:
    """The [n] of the clause about 子女入学 among the clauses the question retrieves."""
    from assistant.answering.service import Assistant

    answer = Assistant(plan_index).run(LLM_QUESTION)
    return next(c.n for c in answer.citations if "子女入学" in c.text)


class Writes(io.StringIO):
    """stdout that remembers each write: streamed text arrives in several."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_ask_streams_the_llm_answer_then_the_citations(llm_server, plan_index, cited, monkeypatch, capsys):
    first, second = f"计划提出优化医疗保障、子女入学等特色服务[{cited}]。", f"同时完善人才科创服务政策体系[{cited}]。"
    llm_server.script(Reply(f"{first}\n{second}", chunk_chars=4))
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["ask", LLM_QUESTION, "--index", str(plan_index)]) == 0
    text = out.getvalue()
    assert llm_server.requests[0]["stream"] is True and llm_server.requests[0]["model"] == "cli-test-model"
    assert llm_server.headers[0]["authorization"] == f"Bearer {LLM_KEY}"
    # each verified sentence is written as soon as the model completes it, before the citations
    assert f"{first}\n" in out.writes and second in out.writes
    assert out.writes.index(second) < next(i for i, w in enumerate(out.writes) if "引用条款" in w)
    assert text.startswith(f"{first}\n{second}\n") and "注意" not in text
    assert f"[{cited}] kunshan-talent-plan-2022-2025 四.(六).20" in text
    assert LLM_KEY not in text + capsys.readouterr().err


def test_ask_json_and_batch_in_llm_mode(llm_server, plan_index, cited, tmp_path, capsys):
    good = f"计划提出优化医疗保障、子女入学等特色服务[{cited}]。"
    llm_server.script(Reply(good + f"每位人才每年可领取子女教育补贴5万元[{cited}]。"))
    assert main(["ask", LLM_QUESTION, "--json", "--index", str(plan_index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"question", "answer", "refused", "citations", "latency_ms", "notice"}
    assert answer["answer"] == good + f"每位人才每年可领取子女教育补贴5万元[{cited}]（未核实）。"
    assert "未能在所引条款中核实" in answer["notice"] and llm_server.requests[0]["stream"] is False
    assert any(c["clause_id"] == "四.(六).20" and c["n"] == cited for c in answer["citations"])

    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": LLM_QUESTION}, ensure_ascii=False) + "\n" + json.dumps({"question": "博士后集聚“双百”行动由谁牵头？"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    llm_server.script(Reply(status=500))
    assert main(["ask", "--batch", str(batch), "--index", str(plan_index)]) == 0
    failed, exact = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert failed["notice"] == "大模型暂不可用，已返回抽取式答案。" and "子女入学" in failed["answer"]  # the extractive answer
    assert exact["notice"] == "" and "市委人才办" in exact["answer"]  # who leads: exact, never sent to the model
    assert len(llm_server.requests) == 2


def test_ask_shows_the_extractive_answer_when_the_model_fails(llm_server, plan_index, capsys):
    llm_server.script(Reply(raw=b'{"choices": [{"message": '))
    assert main(["ask", LLM_QUESTION, "--index", str(plan_index)]) == 0
    out = capsys.readouterr().out
    assert "子女入学" in out and "注意：大模型暂不可用，已返回抽取式答案。" in out and "引用条款：" in out


def test_ask_replaces_a_stream_that_breaks_with_the_extractive_answer(llm_server, plan_index, cited, capsys):
    shown = f"计划提出优化医疗保障、子女入学等特色服务[{cited}]。"
    event = chunk({"content": shown + "\n每位"}, "cli-test-model")
    llm_server.script(Reply(raw=f"data: {json.dumps(event, ensure_ascii=False)}\n\ndata: {{broken\n\n".encode()))
    assert main(["ask", LLM_QUESTION, "--index", str(plan_index)]) == 0
    out = capsys.readouterr().out
    before, _, after = out.partition("\n——\n")
    assert before == shown  # streamed before the model broke off (no blank line after it)
    assert "完善人才科创服务政策体系" in after and "注意：大模型的回答中途中断，已返回抽取式答案。" in after  # then the extractive answer


def test_ask_without_llm_settings_is_extractive(plan_index, monkeypatch, capsys):
    from assistant.settings import get_settings

    for name in ("ASSISTANT_LLM_BASE_URL", "ASSISTANT_LLM_MODEL", "ASSISTANT_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    assert main(["ask", LLM_QUESTION, "--json", "--index", str(plan_index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"question", "answer", "refused", "citations", "latency_ms"}  # the stable schema, unchanged
    assert "子女入学" in answer["answer"]
