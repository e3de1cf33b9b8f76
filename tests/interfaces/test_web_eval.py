"""The 评测 tab's handlers called directly: real runs on a few dev-set questions, and bad files."""
from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import NCP, PLAN, ROOT, need

gr = pytest.importorskip("gradio")

from assistant.evaluation.questions import load_questions  # noqa: E402
from assistant.evaluation.runner import evaluate  # noqa: E402
from assistant.evaluation.systems import build_systems  # noqa: E402
from assistant.interfaces import web_eval  # noqa: E402
from assistant.interfaces.web_eval import EvalInputError, EvalTab, load_question_file, new_run_dir, prune_runs  # noqa: E402
from assistant.settings import Settings  # noqa: E402

XSS = "<img src=x onerror=alert(1)>"
DEV_LINES = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
# two lead questions, two follow-ups and an unanswerable one: ranks, facts and refusals
SAMPLE_IDS = ("q001", "q002", "q154", "q155", "q171")


@pytest.fixture()
def out_root(tmp_path: Path) -> Path:
    return tmp_path / "eval-out"


@pytest.fixture()
def tab(settings: Settings, out_root: Path) -> EvalTab:
    return EvalTab(settings, out_root)


def sample_file(tmp_path: Path) -> Path:
    lines = [line for line in DEV_LINES if json.loads(line)["id"] in SAMPLE_IDS]
    assert len(lines) == len(SAMPLE_IDS)
    path = tmp_path / "sample.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_matches_the_runner_and_writes_real_files(tab, settings, out_root, tmp_path):
    path = sample_file(tmp_path)
    steps = []

    class Progress:  # like gr.Progress: a callable that is falsy before it tracks anything
        def __len__(self) -> int:
            return 0

        def __call__(self, value, desc=None, total=None, unit="steps"):
            steps.append((value, desc))

    view = tab.run("upload", str(path), ["bm25", "assistant"], Progress())  # shown in the page's order
    assert view.ok, view.status
    run = view.run
    assert [s.name for s in run.report.systems] == ["assistant", "bm25-only"]

    # the same numbers as the runner computes for the same questions
    expected = evaluate(load_questions(path), build_systems(["assistant", "bm25"], settings.index_dir, settings.knowledge_dir, settings), "x")
    for got, want in zip(run.report.systems, expected.systems):
        for metric in ("questions", "hit@1", "hit@5", "mrr", "facts", "refusal_accuracy", "false_refusal"):
            assert got.overall[metric] == pytest.approx(want.overall[metric]), (got.name, metric)
    assert run.report.metric("hit@1") >= 0.75

    # per question progress, with the system's name
    loading = [desc for v, desc in steps if "加载" in (desc or "")]
    assert loading[-1] == "已加载 bm25-only" and "已加载 assistant" in loading  # the systems load before the first question
    counted = [(v, desc) for v, desc in steps if isinstance(v, tuple) and "加载" not in (desc or "")]
    assert counted[0] == ((1, 5), "assistant（系统 1/2）") and counted[4] == ((5, 5), "assistant（系统 1/2）")
    assert counted[5] == ((1, 5), "bm25-only（系统 2/2）") and len(counted) == 10

    # the page: both systems side by side, the hit@1 row with each system's value
    assert "<th>assistant</th><th>bm25-only</th>" in view.metrics
    row = view.metrics.split("<td>hit@1</td>")[1].split("</tr>")[0]
    for system in run.report.systems:
        assert f"{system.overall['hit@1']:.3f}" in row
    for category in ("lead", "followup", "unanswerable"):
        assert f"<td>{category}</td>" in view.categories
    assert "最差的未命中" in view.misses and "assistant：未命中" in view.misses
    assert "bm25-only：未命中" in view.misses  # every system's misses, not only the assistant's
    assert "评测完成" in view.status and "5 题" in view.status

    # the files: a fresh web-<timestamp> directory, real PNG charts, the zip for download
    assert run.out_dir.parent == out_root and run.out_dir.name.startswith("web-")
    assert [Path(c).name for c in view.charts] == ["systems.png", "latency.png", "categories.png"]
    for chart in view.charts:
        assert Path(chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(view.downloads[0]).suffix == ".zip"
    with zipfile.ZipFile(view.downloads[0]) as zf:
        names = set(zf.namelist())
        assert {"report.md", "metrics.json", "systems.png", "latency.png", "categories.png", "questions.jsonl"} <= names
        metrics = json.loads(zf.read("metrics.json"))
        assert metrics["systems"][0]["overall"]["hit@1"] == run.report.metric("hit@1")
        assert "## 系统对比" in zf.read("report.md").decode("utf-8")
        # which knowledge base the numbers are about: its build and each document's content hash
        kb = json.loads(zf.read("knowledge_base.json"))
        assert [d["file"] for d in kb["documents"]] == [PLAN.name] and len(kb["documents"][0]["sha256"]) == 64
        assert kb["documents"][0]["sha256"] in zf.read("report.md").decode("utf-8")
        assert len(load_questions_from_bytes(zf.read("questions.jsonl"), tmp_path)) == len(SAMPLE_IDS)
    assert "评测所用的知识库（1 个文件）" in view.metrics and kb["documents"][0]["sha256"][:12] in view.metrics
    assert str(out_root) not in view.status  # no server path on the page
    assert [r["指标"] for r in view.plots["overall"]][:2] == ["hit@1｜assistant", "hit@1｜bm25-only"]


def load_questions_from_bytes(data: bytes, tmp_path: Path) -> list:
    path = tmp_path / "roundtrip.jsonl"
    path.write_bytes(data)
    return load_questions(path)


def test_everything_shown_is_escaped(tab, tmp_path):
    rows = [
        # gold that no clause has: a miss, so the question, its id and its category are shown
        {"id": f"x{XSS}", "category": f"cat{XSS}", "question": f"博士后集聚“双百”行动由谁牵头？{XSS}", "gold_clauses": [f"九.{XSS}"], "facts": [XSS]},
        {"question": "人才公寓申请的截止日期是哪天？", "answerable": False, "category": "unanswerable"},
    ]
    path = tmp_path / f"bad{XSS}.jsonl".replace("/", "_")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    view = tab.run("upload", str(path), ["assistant"])
    assert view.ok, view.status
    page = view.status + view.metrics + view.categories + view.misses
    assert XSS not in page
    assert html.escape(XSS, quote=True) in view.misses and html.escape(f"cat{XSS}", quote=True) in view.categories
    assert html.escape(f"x{XSS}", quote=True) in view.misses


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "文件是空的"),
        (b"\n  \n\n", "没有题目"),
        (b"question,answer\nfoo,bar\n", "第 1 行：不是 JSON"),
        (json.dumps([{"question": "q", "gold_clauses": ["一.1"]}]).encode(), "应是 JSON 对象"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本文件"),
        ('{"question": "博士后"}'.encode("gbk"), "不是 UTF-8"),
        (b'{"q": "x", "gold_clauses": ["a"]}\n', "缺少字段 question"),
        (b'{"question": "x", "gold_clauses": "a"}\n', "gold_clauses"),
        (b'{"question": "x", "history": [1, 2]}\n', "history"),
        (b'{"question": "x", "doc": 5, "answer": "y"}\n', "字段不对"),
        (b'{"question": "x", "gold": ["a"]}\n', "没有标准答案"),
        (b'{"question": "", "gold_clauses": ["a"]}\n', "非空字符串"),
    ],
)
def test_bad_files_get_a_clear_message(tab, out_root, tmp_path, content, message):
    path = tmp_path / "questions.jsonl"
    path.write_bytes(content)
    view = tab.run("upload", str(path), ["assistant"])
    assert not view.ok
    assert "kp-error" in view.status and message in html.unescape(view.status), view.status
    assert view.outputs()[1:] == ("", "", {}, "", None)
    assert not out_root.exists()  # nothing ran, nothing was written


def test_bad_lines_are_named_and_counted(tmp_path):
    good = DEV_LINES[0]
    lines = [good, "not json", good, "[1]", *["{oops"] * 12]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(EvalInputError) as caught:
        load_question_file(path)
    message = str(caught.value)
    assert "第 2 行" in message and "第 4 行" in message and "另有 6 行有误" in message


def test_huge_and_long_files_are_refused(tab, tmp_path, monkeypatch):
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as fh:
        fh.truncate(web_eval.MAX_BYTES + 1)  # sparse: no need to write 5 MB
    assert "文件太大" in tab.run("upload", str(huge), ["assistant"]).status
    monkeypatch.setattr(web_eval, "MAX_QUESTIONS", 3)
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(DEV_LINES[:5]), encoding="utf-8")
    assert "题目太多" in tab.run("upload", str(many), ["assistant"]).status


def test_both_formats_and_a_bom_load(tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_text("\n".join(DEV_LINES[:3]) + "\r\n", encoding="utf-8-sig")
    assert [q.id for q in load_question_file(bom)] == ["q001", "q002", "q003"]
    spans = tmp_path / "spans.jsonl"
    spans.write_text("\n".join((need(NCP) / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:3]), encoding="utf-8")
    questions = load_question_file(spans)
    assert len(questions) == 3 and all(q.gold_doc and q.gold_answer for q in questions)
    assert "答案片段格式" in web_eval.describe(questions)


def test_choices_and_missing_input(tab):
    assert tab.systems(["naive", "assistant", "dense"]) == ["assistant", "dense", "naive"]
    assert "至少选择一个" in tab.run("dev", None, []).status
    assert "未知的系统" in tab.run("dev", None, ["assistant", "gpt"]).status
    assert "请先上传" in tab.run("upload", None, ["assistant"]).status
    assert "找不到题目文件" in tab.run("upload", "/nonexistent/q.jsonl", ["assistant"]).status
    assert "未知的系统" in tab.run("dev", None, ["llm"]).status  # no model configured: not on offer


def test_the_llm_mode_is_offered_when_a_model_is_configured(settings, out_root):
    llm = EvalTab(settings.model_copy(update={"llm_model": "qwen", "llm_base_url": "http://127.0.0.1:9/v1"}), out_root)
    assert [v for _, v in llm.choices()] == ["assistant", "llm", "bm25", "dense", "naive"]
    assert llm.systems(["llm", "assistant"]) == ["assistant", "llm"]


def test_no_index_is_reported_not_raised(tmp_path, out_root):
    tab = EvalTab(Settings(knowledge_dir=tmp_path / "kb", index_dir=tmp_path / "no-index"), out_root)
    view = tab.run("dev", None, ["assistant"])
    assert not view.ok and "知识库索引不可用" in view.status


def test_run_directories(tmp_path):
    root = tmp_path / "runs"
    first, second = new_run_dir(root), new_run_dir(root)
    assert first != second and first.name.startswith("web-") and second.name.startswith(first.name)
    for i in range(5):
        new_run_dir(root)
    prune_runs(root, keep=3)
    assert len(list(root.glob("web-*"))) == 3


def test_the_tab_is_built_with_its_own_queue(settings, tmp_path):
    from assistant.interfaces.web import ANSWER_QUEUE, build_app

    demo = build_app(settings, feedback_db=tmp_path / "feedback.sqlite")
    config = demo.get_config_file()
    tabs = [c["props"].get("label") for c in config["components"] if c.get("type") == "tabitem"]
    assert "评测" in tabs
    eval_fns = [fn for fn in demo.fns.values() if fn.concurrency_id == web_eval.EVAL_QUEUE]
    assert len(eval_fns) == 2 and all(fn.concurrency_limit == 1 for fn in eval_fns)
    assert all(fn.concurrency_id != ANSWER_QUEUE for fn in eval_fns)
    demo.close()
