"""The Gradio app: served for real and called with gradio_client, plus its handlers called directly."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import CLIENT_HTTPX, PLAN, ROOT

gr = pytest.importorskip("gradio")

from assistant.interfaces import web_render as R  # noqa: E402
from assistant.interfaces.web import (  # noqa: E402
    MODE,
    WebApp,
    build_app,
    ensure_index,
    mode_label,
    new_chat_state,
    parse_history,
    safe_file_name,
)
from assistant.models import Citation  # noqa: E402
from assistant.retrieval.index import current_build  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from tests.fixtures import POLICY, write_docx  # noqa: E402
from tests.fixtures_openai import FakeOpenAI, Reply  # noqa: E402

XSS = "<img src=x onerror=alert(1)>"
UPLOADED_POLICY = (
    f"关于支持青年创客{XSS}的若干措施\n"
    "一、创客扶持\n"
    f"1. 对入驻青年创客空间的团队给予三年免租{XSS}支持。（牵头单位：市人社局；配合单位：市财政局）\n"
    "2. 为青年创客提供人才公寓租赁服务。（牵头单位：市住建局；配合单位：各区镇）\n"
)


@pytest.fixture()
def web(settings: Settings, tmp_path: Path) -> WebApp:
    return WebApp(settings, feedback_db=tmp_path / "feedback.sqlite")


def run_chat(web: WebApp, question: str, state: dict | None = None) -> tuple[list[list[dict]], dict]:
    """All the steps the chat streams for one question, and the state after it."""
    steps = []
    for messages, box, state in web.chat(question, state or new_chat_state()):
        assert box == ""
        steps.append([dict(m) for m in messages])
    return steps, state


# -- served app, called through gradio_client ----------------------------------------------------------
def test_ask_and_chat_through_the_api(served):
    from gradio_client import Client

    _, url = served
    client = Client(url, verbose=False, httpx_kwargs=CLIENT_HTTPX)
    answer = client.predict("博士后集聚“双百”行动由谁牵头？", [], api_name="/ask")
    assert "市委人才办" in answer["answer"] and not answer["refused"]
    assert any(c["clause_id"] == "四.(二).5" for c in answer["citations"])
    assert set(answer) == {"question", "answer", "refused", "citations", "latency_ms"}

    # history as a JSON string: the follow-up is about the same measure
    follow = client.predict("那配合单位呢？", '["博士后集聚“双百”行动由谁牵头？"]', api_name="/ask")
    assert "市教育局" in follow["answer"] and follow["citations"][0]["clause_id"] == "四.(二).5"
    with pytest.raises(Exception, match="history"):
        client.predict("那配合单位呢？", "not json", api_name="/ask")

    text = lambda m: "".join(part["text"] for part in m["content"]) if isinstance(m["content"], list) else m["content"]
    messages, box = client.predict("市委台办牵头哪些工作？", api_name="/chat")
    bot = text(messages[1])
    assert "深化对台人才科创合作" in bot and 'class="kp-card ' in bot and "<details" in bot and box == ""
    # the session keeps the conversation; markup in a question is shown as text
    messages, _ = client.predict(f"{XSS}<script>alert(2)</script>", api_name="/chat")
    assert len(messages) == 4
    user = text(messages[2])
    assert "&lt;img src=x" in user and "&lt;script&gt;" in user and "<img" not in user and "<script" not in user


# -- chat handlers -------------------------------------------------------------------------------------
def test_chat_streams_and_renders_cards(web):
    steps, state = run_chat(web, "博士后集聚“双百”行动由谁牵头？")
    bots = [s[-1]["content"] for s in steps]
    assert "正在检索" in bots[0]
    partial = [b for b in bots[1:-1]]
    assert len(partial) >= 3, "the answer should arrive in several steps"
    assert all("kp-card" not in b for b in partial) and "kp-card" in bots[-1]
    final = bots[-1]
    assert "市委人才办" in final and "条款：四.(二).5" in final
    assert "<details" in final and "<mark>" in final and "文号：昆办发〔2022〕67号" in final and "状态：有效" in final
    assert state["questions"] == ["博士后集聚“双百”行动由谁牵头？"]

    # the second turn gets the first question as history
    steps, state = run_chat(web, "那配合单位呢？", state)
    assert "市教育局" in steps[-1][-1]["content"] and len(steps[-1]) == 4


LLM_QUESTION = "来昆山工作的人才，孩子上学和看病有什么保障？"


def test_chat_streams_the_llm_answer_and_shows_the_mode(settings, tmp_path):
    """LLM mode against the loopback fake of the OpenAI API: the badge names the model, the chat shows
    the verified sentences as they arrive, the final message has the cards, the 未核实 mark and the
    notice (escaped); a failed model gives the extractive answer with its notice."""
    with FakeOpenAI() as server:
        llm = settings.model_copy(update={"llm_base_url": server.base_url, "llm_model": "web-test-model", "llm_api_key": SecretStr("sk-web-SECRET"), "llm_timeout": 5,
                                        # one of the two sentences below is invented: shown (marked) only below the default share of 0.5
                                        "llm_min_verified_share": 0.3})
        web = WebApp(llm, feedback_db=tmp_path / "feedback.sqlite")
        assert web.mode == "大模型：web-test-model" and mode_label(settings) == MODE == "抽取式（不使用大模型）"
        header = next(b.value for b in build_app(llm, feedback_db=tmp_path / "f2.sqlite").blocks.values() if isinstance(b, gr.HTML) and "kp-mode" in (b.value or ""))
        assert "当前模式：大模型：web-test-model" in header

        base = web.assistant.extractive.run(LLM_QUESTION)
        n = next(c.n for c in base.citations if "子女入学" in c.text)
        first, second = f"计划提出优化医疗保障、子女入学等特色服务[{n}]。", f"每位人才每年可领取<b>子女教育补贴</b>5万元[{n}]。"
        server.script(Reply(f"{first}\n{second}", chunk_chars=3))
        steps, state = run_chat(web, LLM_QUESTION)
        assert server.requests[0]["stream"] is True
        bots = [s[-1]["content"] for s in steps]
        assert "正在检索" in bots[0]
        partial = bots[1:-1]
        assert len(partial) == 2 and "优化医疗保障" in partial[0] and "5万元" not in partial[0]  # one step per verified sentence
        assert all("kp-card" not in b for b in partial)
        final = bots[-1]
        assert "kp-card" in final and "条款：四.(六).20" in final and "<mark>" in final
        assert '<span class="kp-unverified">（未核实）</span>' in final and "未能在所引条款中核实" in final
        assert "<b>" not in final and "&lt;b&gt;子女教育补贴&lt;/b&gt;" in final
        assert state["answers"]["1"]["answer"].startswith(first)

        # the model fails: the extractive answer, with the notice
        server.script(Reply(status=500))
        steps, state = run_chat(web, LLM_QUESTION, state)
        final = steps[-1][-1]["content"]
        assert "大模型暂不可用，已返回抽取式答案。" in final and "kp-card" in final and "优化医疗保障、子女入学" in final

        # the API: the stable object, plus the notice
        server.script(Reply(first))
        answer = web.ask(LLM_QUESTION)
        assert answer["answer"] == first and answer["notice"] == "" and server.requests[-1]["stream"] is False
        assert set(answer) == {"question", "answer", "refused", "citations", "latency_ms", "notice"}


def test_feedback_is_stored(web, tmp_path):
    _, state = run_chat(web, "博士后集聚“双百”行动由谁牵头？")
    status, state = web.like(state, gr.LikeData(None, {"index": 1, "value": "", "liked": False}))
    assert "已记录" in status
    status, _ = web.rate(state, 0, "up")  # the user's own message cannot be rated
    assert "只能评价" in status
    status, box = web.comment("请补充配合单位的联系方式", state)
    assert "已保存" in status and box == ""

    db = sqlite3.connect(tmp_path / "feedback.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT ts, question, answer, citations, rating, comment FROM feedback ORDER BY id").fetchall()
    assert [(r[1], r[4], r[5]) for r in rows] == [
        ("博士后集聚“双百”行动由谁牵头？", "down", ""),
        ("博士后集聚“双百”行动由谁牵头？", "down", "请补充配合单位的联系方式"),
    ]
    assert "市委人才办" in rows[0][2] and rows[0][0] > 0
    assert any(c["clause_id"] == "四.(二).5" for c in __import__("json").loads(rows[0][3]))


def test_feedback_survives_kill_9(tmp_path):
    db = tmp_path / "fb.sqlite"
    code = (
        "import os, signal\n"
        "from assistant.feedback import FeedbackStore\n"
        f"store = FeedbackStore({str(db)!r})\n"
        "store.add('q', 'a', [{'n': 1}], 'up', 'fine')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    from assistant.feedback import FeedbackStore

    rows = FeedbackStore(db).rows()
    assert [(r.question, r.rating, r.comment, r.citations) for r in rows] == [("q", "up", "fine", [{"n": 1}])]


# -- uploads -------------------------------------------------------------------------------------------
def test_upload_with_markup_is_ingested_and_shown_as_text(web, settings, tmp_path):
    source = tmp_path / "upload" / "青年 创客<政策>.txt"
    source.parent.mkdir()
    source.write_text(UPLOADED_POLICY, encoding="utf-8")
    steps = []
    result = web.add_file(source, lambda *a, **k: steps.append(k.get("desc")))
    assert result.ok, result.html
    saved = Path(result.saved)
    assert saved.parent == settings.knowledge_dir and saved.name == "青年_创客_政策.txt"
    assert "已加入知识库" in result.html and "校验文件" in steps and "完成" in steps
    assert saved.stem in web.index().docs

    docs = web.docs_table()
    assert "&lt;img src=x onerror=alert(1)&gt;" in docs and "<img src=x" not in docs

    # the chat now answers from the new build, and the card of the new document escapes its text
    answer = web.assistant.run("入驻青年创客空间的团队有什么支持？")
    cited = [c for c in answer.citations if c.doc == saved.stem]
    assert cited, answer.answer
    card = R.citation_card(cited[0], web.index().docs[saved.stem])
    assert "&lt;img" in card and "<img src=x" not in card
    page = web.render_answer(answer)
    assert "&lt;img" in page and "<img src=x" not in page

    views = web.views()
    assert "<img src=x" not in views[0] and "<img src=x" not in views[3]


def test_corrupt_upload_is_rejected_and_not_added(web, settings, tmp_path):
    before = sorted(p.name for p in settings.knowledge_dir.iterdir())
    build = current_build(settings.index_dir)
    bad_pdf = tmp_path / "broken.pdf"
    bad_pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(600))
    bad_docx = tmp_path / "broken.docx"
    bad_docx.write_bytes(b"PK\x03\x04 not really a zip")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    wrong = tmp_path / "notes.exe"
    wrong.write_bytes(b"MZ")
    for path, message in ((bad_pdf, "PDF"), (bad_docx, ".docx"), (empty, "空文件"), (wrong, "不支持的文件类型")):
        result = web.add_file(path)
        assert not result.ok and message in result.html and "kp-error" in result.html, result.html
    assert sorted(p.name for p in settings.knowledge_dir.iterdir()) == before
    assert current_build(settings.index_dir) == build
    assert not web.add_file(None).ok


def test_upload_names_do_not_collide(web, settings, tmp_path):
    first = tmp_path / "a" / "youth.docx"
    first.parent.mkdir()
    write_docx(first)
    assert web.add_file(first).ok
    again = web.add_file(first)
    assert not again.ok and "内容相同" in again.html
    second = tmp_path / "b" / "youth.docx"
    second.parent.mkdir()
    write_docx(second, POLICY.replace("场地支持", "办公场地支持"))
    result = web.add_file(second)
    assert result.ok and Path(result.saved).name == "youth-2.docx"
    assert {"youth", "youth-2"} <= set(web.index().docs)


# -- other tabs ----------------------------------------------------------------------------------------
def test_departments_tab(web):
    view = web.department_view("市委台办")
    assert "深化对台人才科创合作" in view and "四.(五).19" in view and "牵头" in view and "<details" in view
    assert "没有找到部门“不存在局”" in web.department_view("不存在局")
    key = next(v for label, v in web.measure_choices() if "深化对台人才科创合作" in label)
    measure = web.measure_view(key)
    assert "市委台办" in measure and "团市委" in measure
    assert "市委人才办" in web.department_rows()


def test_goals_tab(web):
    table = web.goals_table()
    assert "有效高新技术企业" in table and "3500" in table and "二.—3" in table
    units = web.chart_units()
    assert units[0] == "家" and "%" in units
    frame = web.chart_frame("家")
    assert dict(zip(frame["指标"], frame["目标值"]))["有效高新技术企业"] == 3500
    assert set(web.chart_frame("%")["目标值"]) == {4.5, 2.0, 56.0, 54.0}  # never mixed with other units


def test_knowledge_tab_lists_documents(web):
    table = web.docs_table()
    assert "kunshan-talent-plan-2022-2025.md" in table and "昆办发〔2022〕67号" in table and "有效" in table


# -- pure helpers --------------------------------------------------------------------------------------
def test_rendering_escapes_everything():
    citation = Citation(
        n=1, doc="d", clause_id="1<b>", title="A > <script>B</script>", text=f"前文。{XSS}引用句。后文<i>", doc_title="T&<x>", quotes=[f"{XSS}引用句。"]
    )
    card = R.citation_card(citation, None)
    assert "<script" not in card and "<img" not in card and "<i>" not in card and "<x>" not in card
    assert f"<mark>{R.esc(XSS)}引用句。</mark>" in card and "&lt;script&gt;B" in card
    assert "\n" not in card
    answer = R.answer_html("第一行[1]\n- 甲<b>[2]\n- 乙")
    assert answer.count("<li>") == 2 and '<sup class="kp-ref" title="跳到条款 [1]">[1]</sup>' in answer and "&lt;b&gt;" in answer
    assert R.quote_spans("abcabc", ["bc", "ca", ""]) == [(1, 6)]


def test_safe_file_name():
    assert safe_file_name("../../etc/passwd.md") == "passwd.md"
    assert safe_file_name("..\\..\\x.TXT") == "x.txt"
    assert safe_file_name(".hidden.txt") == "hidden.txt"
    assert safe_file_name("a b<c>.pdf") == "a_b_c.pdf"
    assert safe_file_name("....pdf") == "upload.pdf"


def test_parse_history():
    assert parse_history(None) == [] and parse_history("") == []
    assert parse_history('["甲", "乙"]') == ["甲", "乙"] and parse_history(["甲"]) == ["甲"]
    for bad in ("{", '{"a": 1}', [1, 2]):
        with pytest.raises(ValueError):
            parse_history(bad)


def test_ensure_index_builds_a_missing_index(plan_index_copy, tmp_path, capsys):
    (plan_index_copy / "CURRENT").unlink()  # the embedding cache stays, so this build is quick
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    settings = Settings(knowledge_dir=kb, index_dir=plan_index_copy)
    report = ensure_index(settings)
    assert report is not None and report.documents == 1 and current_build(plan_index_copy) is not None
    assert "正在" in capsys.readouterr().out
    assert ensure_index(settings) is None


def _bad_folder(tmp_path: Path) -> Path:
    kb = tmp_path / "bad-kb"
    kb.mkdir()
    (kb / "empty.txt").write_bytes(b"")
    (kb / "scan.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    return kb


def test_the_app_starts_on_a_folder_with_no_valid_document(tmp_path):
    """`python app.py` on a knowledge folder of bad files and no index: it starts (no orphan build), lists
    each file's error, and an answer request is told that the knowledge base is empty."""
    from gradio_client import Client

    from tests.conftest import free_port, stop_process

    port, index = free_port(), tmp_path / "index"
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index), ASSISTANT_KNOWLEDGE_DIR=str(_bad_folder(tmp_path)), ASSISTANT_PORT=str(port))
    log_path = tmp_path / "app.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180  # a sanity bound: it starts in seconds
            client = None
            while client is None:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                try:
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False, httpx_kwargs=CLIENT_HTTPX)
                except Exception:  # not listening yet
                    time.sleep(0.5)
            with pytest.raises(Exception, match="知识库为空"):
                client.predict("博士后集聚“双百”行动由谁牵头？", [], api_name="/ask")
        finally:
            stop_process(proc)
    out = log_path.read_text()
    assert "empty.txt：空文件" in out and "scan.pdf：PDF" in out and "知识库为空" in out and "Traceback" not in out
    assert not list(index.glob("build-*"))


def test_an_empty_knowledge_base_says_so_and_takes_an_upload(tmp_path):
    settings = Settings(knowledge_dir=_bad_folder(tmp_path), index_dir=tmp_path / "index")
    web = WebApp(settings, feedback_db=tmp_path / "feedback.sqlite")
    views = web.views()
    assert "知识库为空" in views[0] and "kp-error" not in views[0]
    steps, _ = run_chat(web, "博士后集聚“双百”行动由谁牵头？")
    assert "知识库为空" in steps[-1][-1]["content"]
    upload = tmp_path / "youth.txt"
    upload.write_text(POLICY, encoding="utf-8")
    result = web.add_file(upload)
    assert result.ok, result.html
    assert "youth.txt" in web.views()[0] and "市人社局" in web.ask("青年创业项目场地支持由谁牵头？")["answer"]


def test_port_from_flag_or_env(monkeypatch):
    sys.path.insert(0, str(ROOT))
    import app

    monkeypatch.delenv("ASSISTANT_PORT", raising=False)
    assert app.parse_args([]).port == 7860
    monkeypatch.setenv("ASSISTANT_PORT", "8123")
    assert app.parse_args([]).port == 8123
    assert app.parse_args(["--port", "9001"]).port == 9001
    monkeypatch.setenv("ASSISTANT_PORT", "abc")
    with pytest.raises(SystemExit):
        app.parse_args([])


def test_the_feedback_store_follows_the_setting(settings, tmp_path, monkeypatch):
    assert WebApp(settings).feedback.path == Path(settings.index_dir) / "feedback.sqlite"
    monkeypatch.setenv("ASSISTANT_FEEDBACK_DB", str(tmp_path / "elsewhere" / "fb.sqlite"))
    configured = Settings(knowledge_dir=settings.knowledge_dir, index_dir=settings.index_dir)
    assert WebApp(configured).feedback.path == tmp_path / "elsewhere" / "fb.sqlite"
