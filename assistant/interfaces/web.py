"""The Gradio web UI: 问答 (chat with cited clauses), 部门, 目标, 知识库, and the `ask`/`chat` API.

`build_app(settings)` only builds the Blocks; `launch_app` serves it with uvicorn, mounted in one FastAPI
app beside the OpenAI-compatible API of `openai_api` (with the page CSS, which Gradio 6 takes at mount time). All HTML comes from `web_render`, which escapes every piece of text.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import uuid
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from assistant.answering.factory import answer_mode, get_answerer, llm_configured, stream_answer  # noqa: E402
from assistant.feedback import FeedbackStore, Rating, feedback_path  # noqa: E402
from assistant.ingestion import SUPPORTED_SUFFIXES  # noqa: E402
from assistant.ingestion.pipeline import file_sha256  # noqa: E402
from assistant.ingestion.departments import DepartmentRow, department_table  # noqa: E402
from assistant.interfaces import openai_api  # noqa: E402
from assistant.interfaces import web_render as R  # noqa: E402
from assistant.interfaces.web_eval import eval_tab  # noqa: E402
from assistant.interfaces.web_start import BindError, WarmUp, check_binding, ensure_index  # noqa: E402,F401  (re-exported)
from assistant.models import Answer, Clause, IngestReport  # noqa: E402
from assistant.retrieval.cost import embed_rate  # noqa: E402
from assistant.retrieval.index import IndexError_, KnowledgeIndex, NoIndexError, current_build, ingest_configured, knowledge_files, read_manifest  # noqa: E402
from assistant.retrieval.retriever import open_searcher  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.uploads import UploadJob, UploadStore  # noqa: E402

log = logging.getLogger(__name__)

TITLE = "昆山人才科创政策问答助手"
MODE = "抽取式（不使用大模型）"  # the badge without an LLM; with one: 大模型：<model> (mode_label)
HOST = "127.0.0.1"
DEFAULT_PORT = 7860
STREAM_STEPS = 12  # the answer is extracted at once; it is revealed in steps so it reads as it arrives
STREAM_PAUSE = 0.03
APPLICANT_EXAMPLES = ["海外人才来昆创业有什么支持？", "高校毕业生来昆山发展有哪些举措？", "到2025年有效高新技术企业要达到多少家？"]
STAFF_EXAMPLES = ["博士后集聚“双百”行动由谁牵头？", "市科技局牵头哪些工作？", "深化对台人才科创合作的配合单位有哪些？"]
ANSWER_QUEUE = "answer"  # chat and API share one queue
# Answers run side by side: retrieval only reads the index (the embedding call is serialised in the
# embedder), and a streamed answer spends most of its time paused between steps, not computing.
ANSWER_CONCURRENCY = 4
UPLOAD_TYPES = [s for s in SUPPORTED_SUFFIXES if s != ".htm"]
UPLOAD_CACHE = (3600, 3600)  # Gradio's delete_cache: (every, older than) in seconds
# Gradio refuses a file over max_file_size in the browser with an English toast and never calls the
# handler: this says it in Chinese in the tab (LIMIT is filled in at launch).
UPLOAD_JS = """
<script>
(() => {
  const check = (files) => {
    const limit = LIMIT;
    const big = [...(files || [])].filter((f) => limit && f.size > limit);
    const status = document.querySelector("#kp-upload-status");
    if (!big.length || !status) return;
    const mb = (n) => (n / 1048576).toFixed(1);
    const note = document.createElement("div");
    note.className = "kp-notice kp-error";
    note.textContent = big.map((f) => `${f.name}：文件过大（${mb(f.size)} MB），上传上限为 ${mb(limit)} MB，未上传；可设置 ASSISTANT_MAX_UPLOAD_MB 提高上限（file too large）`).join("；");
    status.replaceChildren(note);
  };
  const inUpload = (e) => e.target instanceof Element && e.target.closest("#kp-upload");
  document.addEventListener("change", (e) => { if (inUpload(e) && e.target.files) check(e.target.files); }, true);
  document.addEventListener("drop", (e) => { if (inUpload(e) && e.dataTransfer) check(e.dataTransfer.files); }, true);
})();
</script>
"""

CSS = """
.kp-header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
.kp-mode { display: inline-block; padding: .15em .6em; border-radius: 1em; background: #eef4ff; color: #1d4ed8; font-size: .9em; }
.kp-answer p { margin: .2em 0; }
.kp-answer ul { margin: .2em 0 .2em 1.2em; }
.kp-ref { color: #1d4ed8; font-weight: 600; }
.kp-unverified { color: #b45309; font-size: .85em; }
.kp-cites { margin-top: .6em; border-top: 1px solid #e5e7eb; padding-top: .4em; }
.kp-cites-label { font-size: .85em; color: #6b7280; margin-bottom: .3em; }
.kp-card { border: 1px solid #e5e7eb; border-radius: 8px; padding: .45em .7em; margin: .35em 0; background: #fafafa; }
.kp-card-head { font-weight: 600; }
.kp-n { color: #1d4ed8; }
.kp-kind { font-size: .75em; font-weight: 400; padding: 0 .4em; border-radius: .6em; background: #e0e7ff; color: #3730a3; }
.kp-path { font-size: .88em; color: #374151; }
.kp-meta { font-size: .8em; color: #6b7280; }
.kp-details summary { cursor: pointer; color: #1d4ed8; font-size: .88em; }
.kp-text { white-space: normal; font-size: .9em; line-height: 1.6; padding: .3em 0; }
.kp-text mark { background: #fde68a; padding: 0 .1em; }
.kp-note { font-size: .85em; color: #6b7280; }
.kp-notice { padding: .4em .7em; border-radius: 6px; margin: .3em 0; }
.kp-info { background: #eff6ff; }
.kp-ok { background: #ecfdf5; color: #065f46; }
.kp-error { background: #fef2f2; color: #991b1b; }
.kp-table { border-collapse: collapse; width: 100%; font-size: .92em; }
.kp-table th, .kp-table td { border: 1px solid #e5e7eb; padding: .3em .5em; text-align: left; vertical-align: top; }
.kp-table th { background: #f3f4f6; }
.kp-measures { table-layout: fixed; }
.kp-measures td, .kp-measures th { overflow-wrap: anywhere; word-break: break-word; }
.kp-dept .kp-measures col.kp-narrow { width: 4.5em; }
.kp-legend { font-size: .78em; color: #6b7280; margin-bottom: .2em; }
.kp-ref { cursor: pointer; }
.kp-card.kp-flash { outline: 2px solid #1d4ed8; }
.kp-kind { cursor: help; }
@media (max-width: 640px) {
  /* the phone: the chat grows with its messages and the page scrolls, not a box inside the page */
  #kp-chat { height: auto !important; max-height: none !important; }
  #kp-chat .bubble-wrap, #kp-chat > div { height: auto !important; max-height: none !important; overflow: visible !important; }
  .kp-table { font-size: .85em; }
}
.kp-examples button { font-size: .88em !important; }
.kp-examples-label { font-weight: 600; font-size: .9em; margin-top: .4em; }
.kp-more > summary { cursor: pointer; color: #6b7280; font-size: .85em; margin: .2em 0; }
"""


# A click on [n] in an answer scrolls to that answer's card n (opening the folds it is in). Delegated
# from the document: the chat re-renders its messages as they stream.
HEAD = """<script>
document.addEventListener('click', function (event) {
  var ref = event.target.closest && event.target.closest('.kp-ref');
  if (!ref) return;
  var message = ref.closest('.kp-msg');
  var n = (ref.textContent.match(/\\d+/) || [])[0];
  var card = message && n && message.querySelector('.kp-card.kp-c' + n);
  if (!card) return;
  event.preventDefault();
  for (var node = card.parentElement; node && node !== message; node = node.parentElement) {
    if (node.tagName === 'DETAILS') node.open = true;
  }
  card.scrollIntoView({block: 'center'});
  card.classList.add('kp-flash');
  setTimeout(function () { card.classList.remove('kp-flash'); }, 1500);
});
</script>"""
# Gradio picks the language of its own texts ("Drop File Here", "Use via API") from the browser's
# locale, read as its code loads. This app speaks Chinese to everyone: the page says it is zh-CN before
# Gradio's code runs, so Gradio shows its bundled zh-CN translations whatever the browser's language.
LOCALE_SHIM = (
    "<script>Object.defineProperty(Navigator.prototype,'language',{get:function(){return 'zh-CN'}});"
    "Object.defineProperty(Navigator.prototype,'languages',{get:function(){return ['zh-CN','zh']}});</script>"
)


# Gradio's own texts its bundled zh-CN lacks (the chat's status line showed the key "common.complete")
I18N = gr.I18n(**{"zh-CN": {"common.complete": "完成"}, "en": {"common.complete": "完成"}})


class ChinesePage:
    """ASGI middleware: the page itself (GET /) is marked zh-CN and gets LOCALE_SHIM first in <head>.
    Every other response (the queue's event streams, files, /v1) passes untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                text = body.decode("utf-8")
                text = re.sub(r'<html lang="[^"]*"', '<html lang="zh-CN"', text, count=1)
                body = text.replace("<head>", "<head>" + LOCALE_SHIM, 1).encode("utf-8")
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def mode_label(settings: Settings) -> str:
    """The header badge: 抽取式（不使用大模型） or 大模型：<model>."""
    mode = answer_mode(settings)
    return f"大模型：{mode.removeprefix('llm:')}" if mode.startswith("llm:") else MODE


# -- state of one chat session ----------------------------------------------------------------------
def new_chat_state() -> dict[str, Any]:
    """questions: earlier user questions (the assistant's history); answers: message index → record."""
    return {"messages": [], "questions": [], "answers": {}}


def answer_record(answer: Answer) -> dict[str, Any]:
    public = answer.public()
    return {"question": answer.question, "answer": answer.answer, "citations": public["citations"], "rating": "none"}


def parse_history(history: list[str] | str | None) -> list[str]:
    """The API takes earlier questions as a list, or as that list in a JSON string."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except ValueError as exc:
            raise ValueError(f"history must be a list of strings or a JSON list: {exc}") from None
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise ValueError("history must be a list of strings (earlier questions, oldest first)")
    return history


def to_rating(liked: bool | str | None) -> Rating:
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return "none"  # feedback withdrawn


def safe_file_name(original: str) -> str:
    """A plain name for the knowledge directory: no path parts, no leading dot, a supported suffix."""
    name = re.split(r"[\\/]", original)[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = "." + suffix.lower() if suffix else ""
    stem = re.sub(r"[^\w\-]+", "_", stem).strip("._-")[:80] or "upload"
    return stem + suffix


class UploadResult(BaseModel):
    ok: bool
    html: str
    saved: str | None = None
    report: IngestReport | None = None


# -- the application ----------------------------------------------------------------------------------
class WebApp:
    """Everything the UI does, as plain methods (the tests call them directly)."""

    def __init__(self, settings: Settings, feedback_db: Path | None = None, warm_up: WarmUp | None = None) -> None:
        self.settings = settings
        self.warm_up = warm_up
        self.index_dir = Path(settings.index_dir)
        self.knowledge_dir = Path(settings.knowledge_dir)
        self.assistant = get_answerer(self.index_dir, settings)  # extractive, or the LLM backend when configured
        self.llm = llm_configured(settings)
        self.mode = mode_label(settings)
        self.feedback = FeedbackStore(feedback_db or feedback_path(self.index_dir, settings.feedback_db))
        self._upload_lock = threading.Lock()
        self.uploads = UploadStore(self.index_dir)
        self.uploads.recover(self.knowledge_dir, serving_docs(self.index_dir))  # jobs a crash left unfinished

    # -- the serving index ----------------------------------------------------------------------
    def _ready(self) -> None:
        if self.warm_up is not None:
            self.warm_up.wait()

    def index(self) -> KnowledgeIndex:
        """The serving build (reloaded by open_searcher when an ingest swaps in a new one)."""
        return open_searcher(self.index_dir).index

    # -- 问答 -----------------------------------------------------------------------------------
    def ask(self, question: str, history: list[str] | str | None = None) -> dict:
        """Answer a question; history is the earlier questions of the conversation."""
        self._ready()
        answer = self.assistant.run(question or "", parse_history(history))
        public = answer.public()
        if self.llm:  # why the extractive answer came back, or which sentences are 未核实 ("" when none)
            public["notice"] = answer.notice
        return public

    def render_answer(self, answer: Answer) -> str:
        return R.message_html(answer.answer, answer.citations, self.index().docs, notice=answer.notice)

    def _stream_llm(self, question: str, state: dict[str, Any]) -> Generator[tuple[list[dict], str, dict[str, Any]], None, Answer]:
        """LLM mode: the model's verified sentences as they arrive; returns the final Answer (the
        extractive one, with a notice, when the model failed: the final render replaces the text)."""
        messages = state["messages"]
        stream = stream_answer(self.assistant, question, list(state["questions"]))
        shown = ""
        for delta in stream:
            shown += delta
            messages[-1]["content"] = R.message_html(shown + " …")
            yield messages, "", state
        return stream.answer

    def chat(self, message: str, state: dict[str, Any] | None) -> Iterator[tuple[list[dict], str, dict[str, Any]]]:
        """One chat turn: the question appears, the answer streams in, then its citation cards."""
        state = state if state and "messages" in state else new_chat_state()
        question = message if isinstance(message, str) else ""
        messages = state["messages"]
        messages.append({"role": "user", "content": R.question_html(question if question.strip() else "（空）")})
        messages.append({"role": "assistant", "content": R.notice_html("正在检索条款…")})
        yield messages, "", state
        self._ready()
        try:
            if self.llm:
                answer = yield from self._stream_llm(question, state)
            else:
                answer = self.assistant.run(question, list(state["questions"]))
        except IndexError_ as exc:
            messages[-1]["content"] = R.notice_html(index_problem(exc), "error")
            yield messages, "", state
            return
        except Exception as exc:  # shown to the user, and logged with its traceback
            log.exception("answering failed")
            messages[-1]["content"] = R.notice_html(f"回答时出错（{type(exc).__name__}: {exc}），请稍后重试或换个问法。", "error")
            yield messages, "", state
            return
        text = answer.answer if not self.llm else ""  # the extractive answer comes at once: revealed in steps
        step = max(1, -(-len(text) // STREAM_STEPS))
        for end in range(step, len(text), step):
            messages[-1]["content"] = R.message_html(text[:end] + " …")
            yield messages, "", state
            time.sleep(STREAM_PAUSE)
        messages[-1]["content"] = self.render_answer(answer)
        state["questions"].append(question)
        state["answers"][str(len(messages) - 1)] = answer_record(answer)
        yield messages, "", state

    def like(self, state: dict[str, Any] | None, data: gr.LikeData) -> tuple[str, dict[str, Any]]:
        index = data.index[0] if isinstance(data.index, (tuple, list)) else data.index
        return self.rate(state, int(index), to_rating(data.liked))

    def rate(self, state: dict[str, Any] | None, message_index: int, rating: Rating) -> tuple[str, dict[str, Any]]:
        """Store a 👍/👎 on the answer at `message_index` of the chat."""
        state = state or new_chat_state()
        record = state["answers"].get(str(message_index))
        if record is None:
            return R.notice_html("只能评价助手的回答。", "error"), state
        self.feedback.add(record["question"], record["answer"], record["citations"], rating)
        record["rating"] = rating
        label = {"up": "👍 已记录：有帮助", "down": "👎 已记录：没有帮助", "none": "已撤销评价"}[rating]
        return R.notice_html(f"{label}。可以在下方补充意见。", "ok"), state

    def comment(self, text: str, state: dict[str, Any] | None) -> tuple[str, str]:
        """Store a comment on the latest answer (with the rating it was given, if any)."""
        state = state or new_chat_state()
        if not (text or "").strip():
            return R.notice_html("请先填写意见。", "error"), text
        if not state["answers"]:
            return R.notice_html("请先提问，再对回答提意见。", "error"), text
        record = state["answers"][max(state["answers"], key=int)]
        self.feedback.add(record["question"], record["answer"], record["citations"], record.get("rating", "none"), text)
        return R.notice_html("意见已保存，谢谢！", "ok"), ""

    def export_markdown(self, state: dict[str, Any] | None) -> str:
        """The conversation as Markdown: each question, its answer and its cited clauses with their ids."""
        state = state or new_chat_state()
        records = [state["answers"][k] for k in sorted(state["answers"], key=int)]
        try:
            docs = self.index().docs
        except IndexError_:
            docs = {}
        return R.conversation_markdown(records, docs, TITLE, time.strftime("%Y-%m-%d %H:%M"))

    def export_file(self, state: dict[str, Any] | None) -> tuple[str | None, str]:
        """A Markdown file of the conversation to download, or a message when there is none yet."""
        if not (state or {}).get("answers"):
            return None, R.notice_html("还没有对话可以导出：请先提问。", "error")
        folder = Path(tempfile.mkdtemp(prefix="kunshan-chat-"))
        path = folder / f"对话记录-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(self.export_markdown(state), encoding="utf-8")
        return str(path), R.notice_html(f"已导出 {len(state['answers'])} 轮问答（含引用条款），可在下方下载。", "ok")

    # -- 部门 -----------------------------------------------------------------------------------
    def department_rows(self) -> dict[str, DepartmentRow]:
        return {r.name: r for r in department_table(self.index().clauses)}

    def whole_clause(self, doc: str, clause_id: str) -> Clause | None:
        index = self.index()
        first = next((c for c in index.clauses if c.doc == doc and c.clause_id == clause_id and c.window == 0), None)
        return index.whole(first) if first else None

    def department_view(self, name: str | None) -> str:
        if not name or not name.strip():
            return R.notice_html("请选择一个部门。")
        name = name.strip()
        rows = self.department_rows()
        row = rows.get(name) or rows.get(self.index().departments.resolve(name))  # a short form: 市人社局
        if row is None:
            like = [n for n in rows if name in n or n in name][:5]
            hint = f"相近的部门：{'、'.join(like)}。" if like else "请从下拉列表中选择，或输入部门全称、简称。"
            return R.notice_html(f"没有找到部门“{name}”：已收录的文件中没有这个部门。{hint}", "error")
        docs = self.index().docs
        rows = []
        for role, refs in (("牵头", row.leads), ("配合", row.cooperates)):
            for ref in refs:
                clause = self.whole_clause(ref.doc, ref.clause_id)
                text = clause.text if clause else "（条款正文不可用）"
                doc_title = docs[ref.doc].title if ref.doc in docs else ref.doc
                rows.append([role, ref.clause_id, R.collapsible(R.measure_name(ref.title), text), doc_title])
        alias = f'<div class="kp-meta">又称：{R.esc("、".join(row.aliases))}</div>' if row.aliases else ""
        head = f"<h3>{R.esc(row.name)}</h3>{alias}" + R.notice_html(f"牵头 {len(row.leads)} 项，配合 {len(row.cooperates)} 项。点击举措名称查看条款全文。")
        return '<div class="kp-dept">' + head + R.table_html(["角色", "条款", "举措", "文件"], rows, raw_columns=[2], css_class="kp-measures kp-dept-measures") + "</div>"

    def measure_choices(self) -> list[tuple[str, str]]:
        """`四.(五).19 深化对台人才科创合作 —《…人才科创工作…》`: the picker names each measure's document."""
        index = self.index()
        clauses = [c for c in index.clauses if c.window == 0 and (c.lead_units or c.coop_units)]
        short = {d: R.short_title(m.title) for d, m in index.docs.items()}
        return [(f"{c.clause_id} {R.measure_name(c.title)} —《{short.get(c.doc, c.doc)}》", f"{c.doc}::{c.clause_id}") for c in clauses]

    def measure_view(self, key: str | None) -> str:
        if not key or "::" not in key:
            return R.notice_html("请选择一项举措。")
        doc, clause_id = key.split("::", 1)
        clause = self.whole_clause(doc, clause_id)
        if clause is None:
            return R.notice_html("这项举措已不在当前知识库中。", "error")
        names = self.index().departments
        lead = "、".join(dict.fromkeys(names.resolve(u) for u in clause.lead_units)) or "未写明"
        coop = "、".join(dict.fromkeys(names.resolve(u) for u in clause.coop_units)) or "未写明"
        docs = self.index().docs
        document = docs[doc].title if doc in docs else doc
        rows = [["牵头单位", lead], ["配合单位", coop], ["条款", f"{clause.clause_id}（{clause.title}）"], ["文件", f"《{document}》"]]
        return (
            '<div class="kp-measure">'
            + R.table_html([], rows, css_class="kp-measures")
            + R.collapsible("查看条款全文（含原文中的单位写法）", clause.text)
            + "</div>"
        )

    # -- 目标 -----------------------------------------------------------------------------------
    def goals_table(self) -> str:
        index = self.index()
        if not index.indicators:
            return R.notice_html("已收录的文件中没有量化目标。")
        rows = R.indicator_rows(index.indicators, index.docs)
        return R.table_html(["分组", "指标", "目标值", "单位", "条款", "文件"], rows)

    def chart_units(self) -> list[str]:
        """Units in order of how many indicators use them: only indicators of one unit share an axis."""
        counts: dict[str, int] = {}
        for i in self.index().indicators:
            if _number(i.value) is not None:
                counts[i.unit] = counts.get(i.unit, 0) + 1
        return sorted(counts, key=lambda u: -counts[u])

    def chart_frame(self, unit: str | None) -> pd.DataFrame:
        rows = [
            {"指标": i.indicator, "目标值": _number(i.value), "分组": R.group_label(i.group)}
            for i in self.index().indicators
            if i.unit == unit and _number(i.value) is not None
        ]
        return pd.DataFrame(rows, columns=["指标", "目标值", "分组"])

    # -- 知识库 ---------------------------------------------------------------------------------
    def docs_table(self) -> str:
        index = self.index()
        counts: dict[str, int] = {}
        for c in index.clauses:
            if c.window == 0:
                counts[c.doc] = counts.get(c.doc, 0) + 1
        rows = [
            [Path(m.path).name if m.path else d, m.title, m.get("文号") or "—", m.get("状态") or "—", str(counts.get(d, 0))]
            for d, m in sorted(index.docs.items())
        ]
        return R.table_html(["文件", "标题", "文号", "状态", "条款数"], rows) + self.failed_uploads()

    def failed_uploads(self) -> str:
        """Uploads that were refused or interrupted, with the reason (they are never retried by themselves)."""
        failed = self.uploads.failed()
        if not failed:
            return ""
        rows = [[time.strftime("%Y-%m-%d %H:%M", time.localtime(j.finished or j.created)), j.original, j.message] for j in reversed(failed)]
        return "<p><b>未能入库的上传</b>（未加入知识库）</p>" + R.table_html(["时间", "文件", "原因"], rows)

    def add_file(self, upload: str | Path | None, progress: Callable[..., Any] | None = None) -> UploadResult:
        """Index an uploaded policy file in a worker process (assistant/uploads.py); it enters the
        knowledge directory only once the build holding it serves."""
        if not upload:
            return UploadResult(ok=False, html=R.notice_html("请选择要上传的文件。", "error"))
        source = Path(upload)
        name = safe_file_name(source.name)
        if Path(name).suffix not in UPLOAD_TYPES:
            return UploadResult(ok=False, html=R.notice_html(f"{source.name}：不支持的文件类型；支持 {'、'.join(UPLOAD_TYPES)}。", "error"))
        try:
            size = source.stat().st_size
        except OSError as exc:
            return UploadResult(ok=False, html=R.notice_html(f"{source.name}：无法读取上传的文件（{exc.strerror}）", "error"))
        if size > self.settings.max_upload_mb * 2**20:
            return UploadResult(ok=False, html=R.notice_html(too_large(source.name, size, self.settings.max_upload_mb), "error"))
        if not self._upload_lock.acquire(blocking=False):
            return UploadResult(ok=False, html=R.notice_html("另一个文件正在入库，请稍后再试。", "error"))
        try:
            return self._add_file(source, name, progress or (lambda *a, **k: None))
        finally:
            self._upload_lock.release()

    def _add_file(self, source: Path, name: str, progress: Callable[..., Any]) -> UploadResult:
        target = self._target_path(name, source)
        if target is None:
            return UploadResult(ok=False, html=R.notice_html(f"知识库中已有内容相同的文件 {name}，无需重复上传。", "info"))
        progress(0.05, desc="保存文件")
        job = self.uploads.stage(source, target.name, source.name, file_sha256(source.read_bytes()), self.settings)
        progress(0.1, desc="校验文件")
        try:
            worker = self.uploads.start(job)
        except OSError as exc:  # no process could be started (out of memory, too many processes)
            job = self.uploads.finish(job, "failed", f"{source.name}：无法启动入库进程，文件未加入知识库（cannot start the worker: {exc.strerror}）")
            return UploadResult(ok=False, html=R.notice_html(job.message, "error"))

        def follow(job: UploadJob) -> None:
            if job.to_embed:
                progress(0.15 + 0.8 * job.embedded / job.to_embed, desc=f"计算向量：{job.embedded}/{job.to_embed} 段")

        job = self.uploads.wait(job, worker, follow)
        if job.state != "done":
            others = [e for e in job.report.errors if Path(e.path).name != target.name] if job.report else []
            return UploadResult(ok=False, html=R.notice_html(job.message, "error") + R.file_errors_html(others), report=job.report)
        progress(1.0, desc="完成")
        return UploadResult(ok=True, html=R.ingest_summary(job.report, added=target.name), saved=str(target), report=job.report)

    def document_choices(self) -> list[tuple[str, str]]:
        return [(f"{R.short_title(m.title, 40)}（{Path(m.path).name if m.path else d}）", d) for d, m in sorted(self.index().docs.items())]

    def clauses_view(self, doc: str | None) -> str:
        """A document's clauses: id, heading path and the full text (folded)."""
        if not doc:
            return R.notice_html("选择一个文件，查看它的条款及条款编号。")
        index = self.index()
        if doc not in index.docs:
            return R.notice_html("这个文件已不在知识库中。", "error")
        rows = []
        for c in index.clauses:
            if c.doc == doc and c.window == 0:
                whole = index.whole(c)
                rows.append([c.clause_id, R.collapsible(c.title or "（无标题）", whole.text if whole else c.text)])
        head = R.notice_html(f"《{index.docs[doc].title}》共 {len(rows)} 条。点击标题查看条款全文；问答中的“条款：…”即这里的编号。")
        return head + R.table_html(["条款编号", "标题与全文"], rows, raw_columns=[1], css_class="kp-measures kp-clauses")

    def ask_remove(self, doc: str | None) -> tuple[str, bool]:
        """The confirmation step: (the question to confirm, whether the confirm button shows)."""
        if not doc:
            return R.notice_html("请先选择要删除的文件。", "error"), False
        meta = self.index().docs.get(doc)
        if meta is None:
            return R.notice_html("这个文件已不在知识库中。", "error"), False
        name = Path(meta.path).name if meta.path else doc
        return R.notice_html(f"确定从知识库删除《{meta.title}》（{name}）吗？文件将被移除，索引随之重建；问答不再引用它。", "error"), True

    def remove_file(self, doc: str | None, progress: Callable[..., Any] | None = None) -> UploadResult:
        """Remove a document: its file leaves the knowledge directory and the index is rebuilt; the new
        build replaces the old one only once complete (a failed rebuild puts the file back)."""
        if not doc:
            return UploadResult(ok=False, html=R.notice_html("请先选择要删除的文件。", "error"))
        meta = self.index().docs.get(doc)
        path = self.knowledge_dir / Path(meta.path).name if meta and meta.path else None  # only ever a file of this folder
        if meta is None or path is None or not path.is_file():
            return UploadResult(ok=False, html=R.notice_html("这个文件已不在知识库中。", "error"))
        if not self._upload_lock.acquire(blocking=False):
            return UploadResult(ok=False, html=R.notice_html("另一个文件正在入库，请稍后再试。", "error"))
        try:
            (progress or (lambda *a, **k: None))(0.1, desc="重建索引")
            # hidden while the index is rebuilt (ingest skips dot files); deleted once the new build serves
            parked = path.with_name(f".removing-{uuid.uuid4().hex}-{path.name}")
            os.replace(path, parked)
            try:
                report = ingest_configured(self.settings, knowledge_dir=self.knowledge_dir, index_dir=self.index_dir, progress=True)
            except IndexError_ as exc:
                os.replace(parked, path)
                return UploadResult(ok=False, html=R.notice_html(f"未能重建索引，文件未删除：{exc}", "error"))
            parked.unlink(missing_ok=True)
        finally:
            self._upload_lock.release()
        return UploadResult(ok=True, html=R.notice_html(f"已删除：《{meta.title}》（{path.name}）", "ok") + R.ingest_summary(report), report=report)

    def _target_path(self, name: str, source: Path) -> Path | None:
        """Where to save: the name itself, or name-2, name-3 … when taken (a document is known by its
        file stem). None when a file of that name already has the same content."""
        self.knowledge_dir.mkdir(parents=True, exist_ok=True)
        taken = {p.stem for p in knowledge_files(self.knowledge_dir)} | {p.name for p in self.knowledge_dir.iterdir()}
        stem, suffix = Path(name).stem, Path(name).suffix
        same = self.knowledge_dir / name
        if same.is_file() and same.read_bytes() == source.read_bytes():
            return None
        candidate, n = name, 1
        while Path(candidate).stem in taken or candidate in taken:
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        return self.knowledge_dir / candidate

    # -- page refresh -----------------------------------------------------------------------------
    def views(self) -> tuple:
        """Everything that depends on the serving build, for page load and after an upload."""
        try:
            units = self.chart_units()
            unit = units[0] if units else None
            departments = list(self.department_rows())
            return (
                self.docs_table(),
                gr.Dropdown(choices=departments, value=None),
                gr.Dropdown(choices=self.measure_choices(), value=None),
                self.goals_table(),
                gr.Dropdown(choices=units, value=unit),
                time.time_ns(),  # the chart's redraw trigger
                gr.Dropdown(choices=self.document_choices(), value=None),
            )
        except IndexError_ as exc:
            message = R.notice_html(index_problem(exc), "info" if isinstance(exc, NoIndexError) else "error")
            return (message + self.failed_uploads(), gr.Dropdown(choices=[]), gr.Dropdown(choices=[]), message, gr.Dropdown(choices=[]), time.time_ns(), gr.Dropdown(choices=[]))


def too_large(name: str, size: int, limit_mb: float) -> str:
    return f"{name}：文件过大（{size / 2**20:.1f} MB），上传上限为 {limit_mb:g} MB；可设置 ASSISTANT_MAX_UPLOAD_MB 提高上限（file too large）"


def serving_docs(index_dir: Path) -> dict[str, str]:
    """doc → sha256 of the files the serving build holds (empty when none serves)."""
    try:
        return {d: m.sha256 for d, m in KnowledgeIndex.open(index_dir).docs.items()}
    except IndexError_:
        return {}


def index_problem(exc: IndexError_) -> str:
    """What the page says when no build can serve: an empty knowledge base says so in its own words."""
    return str(exc) if isinstance(exc, NoIndexError) else f"知识库索引不可用：{exc}"


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


# -- layout -------------------------------------------------------------------------------------------
def build_app(settings: Settings, feedback_db: Path | None = None, warm_up: WarmUp | None = None) -> gr.Blocks:
    """The whole UI; call `launch_app` to serve it (with /v1 beside it). Questions wait for
    `warm_up` when given."""
    app = WebApp(settings, feedback_db, warm_up)
    # temporary uploads are copied away at once (assistant/uploads.py): Gradio drops its copies after an hour
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=UPLOAD_CACHE) as demo:
        gr.HTML(
            f'<div class="kp-header"><h1>{R.esc(TITLE)}</h1>'
            f"<div>依据已收录的政策文件作答，每个回答都附引用条款，可展开查看条款全文。"
            f' <span class="kp-mode" id="kp-mode">当前模式：{R.esc(app.mode)}</span></div></div>'
        )
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                _chat_tab(app)
            with gr.Tab("部门", id="departments"):
                dept, measure = _departments_tab(app)
            with gr.Tab("目标", id="goals"):
                goals, unit, chart = _goals_tab(app)
            with gr.Tab("知识库", id="knowledge"):
                docs, upload, upload_status, doc_picker, removal = _knowledge_tab(app)
            with gr.Tab("评测", id="eval"):
                eval_tab(app)
        view_outputs = [docs, dept, measure, goals, unit, chart, doc_picker]

        def on_upload(file: str | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:
            result = app.add_file(file, progress)
            return (result.html, None, *app.views())

        def on_remove(name: str | None, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:
            result = app.remove_file(name, progress)
            return (result.html, gr.Row(visible=False), "", *app.views())

        def starting(file: str | None) -> str:  # the previous file's result must not stay on screen
            name = Path(file).name if file else ""
            return R.notice_html(f"正在校验并入库：{name} …" if name else "正在处理…")

        upload.upload(starting, upload, upload_status, api_visibility="private", queue=False).then(
            on_upload, upload, [upload_status, upload, *view_outputs], api_visibility="private")
        upload.clear(lambda: "", None, upload_status, api_visibility="private", queue=False)
        confirm, confirm_row, remove_status, clauses = removal
        confirm.click(on_remove, doc_picker, [remove_status, confirm_row, clauses, *view_outputs], api_visibility="private")
        demo.load(app.views, None, view_outputs, api_visibility="private")
        gr.api(_ask_endpoint(app), api_name="ask", concurrency_id=ANSWER_QUEUE, concurrency_limit=ANSWER_CONCURRENCY)
    demo.web_app = app  # type: ignore[attr-defined]  # server_app mounts /v1 on the same WebApp
    demo.max_upload_bytes = int(settings.max_upload_mb * 2**20)  # type: ignore[attr-defined]  # Gradio takes it when mounted (server_app)
    return demo


def _ask_endpoint(app: WebApp) -> Callable[[str, list[str] | str | None], dict]:
    def ask(question: str, history: list[str] | str | None = None) -> dict:
        """Answer a policy question with cited clauses. history: the earlier questions (a list of strings, or a JSON list)."""
        try:
            return app.ask(question, history)
        except (ValueError, IndexError_) as exc:  # a bad request, or no usable index: say which
            raise gr.Error(str(exc), print_exception=False) from exc  # expected: no traceback in the log

    return ask


def _chat_tab(app: WebApp) -> None:
    state = gr.State(new_chat_state())
    chatbot = gr.Chatbot(
        label="对话",
        show_label=False,  # the tab says what it is; a label over the chat covered its first message on the phone
        elem_id="kp-chat",
        height=560,
        latex_delimiters=[],  # policy text is not LaTeX; "$" must stay a dollar sign
        feedback_options=("Like", "Dislike"),
        placeholder="请输入关于昆山人才科创政策的问题，或点击下方的示例问题。",
    )
    feedback_status = gr.HTML(elem_id="kp-feedback-status")  # right under the chat, where the 👍/👎 was clicked
    with gr.Row():
        question = gr.Textbox(label="问题", placeholder="例如：博士后集聚“双百”行动由谁牵头？", show_label=False, scale=8, elem_id="kp-question", autofocus=True)
        send = gr.Button("发送", variant="primary", scale=1, elem_id="kp-send")
        reset = gr.Button("新对话", scale=1, elem_id="kp-new")
    examples = []
    for label, questions in (("申请人常问", APPLICANT_EXAMPLES), ("工作人员常问", STAFF_EXAMPLES)):
        gr.HTML(f'<div class="kp-examples-label">{R.esc(label)}：</div>')
        with gr.Row(elem_classes="kp-examples"):
            examples += [(gr.Button(q, size="sm"), q) for q in questions]
    with gr.Accordion("对最近的回答提意见（可选）", open=False):
        comment = gr.Textbox(label="意见", placeholder="哪里不准确、缺了什么？", lines=2, elem_id="kp-comment")
        send_comment = gr.Button("提交意见", size="sm")
    with gr.Row():
        export = gr.Button("导出对话记录（.md 文件，含引用条款）", size="sm", elem_id="kp-export")
    export_status = gr.HTML(elem_id="kp-export-status")
    export_file = gr.File(label="对话记录", visible=False, interactive=False, elem_id="kp-export-file")

    chat_io = dict(inputs=[question, state], outputs=[chatbot, question, state], show_progress="minimal", concurrency_id=ANSWER_QUEUE,
                   concurrency_limit=ANSWER_CONCURRENCY)
    question.submit(app.chat, api_name="chat", **chat_io)
    send.click(app.chat, api_visibility="private", **chat_io)
    for button, text in examples:
        button.click(lambda t=text: t, None, question, api_visibility="private").then(app.chat, api_visibility="private", **chat_io)
    reset.click(lambda: ([], "", new_chat_state(), ""), None, [chatbot, question, state, feedback_status], api_visibility="private")

    def on_export(st: dict[str, Any] | None) -> tuple:
        path, note = app.export_file(st)
        return gr.File(value=path, visible=path is not None), note

    export.click(on_export, state, [export_file, export_status], api_visibility="private")
    chatbot.clear(lambda: (new_chat_state(), ""), None, [state, feedback_status], api_visibility="private")
    chatbot.like(app.like, state, [feedback_status, state], api_visibility="private")
    send_comment.click(app.comment, [comment, state], [feedback_status, comment], api_visibility="private")


def _departments_tab(app: WebApp) -> tuple[gr.Dropdown, gr.Dropdown]:
    gr.Markdown("按部门查看：它牵头和配合的举措。按举措查看：牵头和配合单位。")
    with gr.Row():
        with gr.Column():
            # a typed name that is no option still reaches department_view, which says 没有找到
            dept = gr.Dropdown(label="部门（可输入名称或简称）", choices=[], allow_custom_value=True, elem_id="kp-dept")
            dept_out = gr.HTML(elem_id="kp-dept-view")
        with gr.Column():
            measure = gr.Dropdown(label="举措", choices=[], elem_id="kp-measure")
            measure_out = gr.HTML(elem_id="kp-measure-view")
    dept.change(app.department_view, dept, dept_out, api_visibility="private")
    measure.change(app.measure_view, measure, measure_out, api_visibility="private")
    return dept, measure


def _goals_tab(app: WebApp) -> tuple[gr.HTML, gr.Dropdown, gr.State]:
    gr.Markdown("到2025年的量化目标（来自文件正文的“总体目标”）。图表只把**同一单位**的指标放在一起比较。")
    unit = gr.Dropdown(label="图表单位", choices=[], elem_id="kp-unit")
    drawn = gr.State(0)  # views() sets a new value after each rebuild of the index: the chart is drawn again

    # A new plot for each unit: an updated gr.BarPlot took the new frame and the new axis title but kept
    # drawing the previous unit's bars (1700 under "%") until the window was resized.
    @gr.render(inputs=[unit, drawn], triggers=[unit.change, drawn.change], concurrency_limit=1)  # two at once collide on block ids
    def draw(chosen: str | None, _: int) -> None:
        gr.BarPlot(app.chart_frame(chosen), x="指标", y="目标值", color="分组", x_title="指标", y_title=f"目标值（{chosen or ''}）",
                   sort="-y", x_label_angle=-30, height=420, elem_id="kp-chart")

    goals = gr.HTML(elem_id="kp-goals")
    return goals, unit, drawn


def _upload_embedder(app: WebApp) -> str:
    """The embedder an upload goes through: the knowledge base's own, else the configured one."""
    try:
        build = current_build(app.index_dir)
        if build is not None:
            return read_manifest(build).embedder
    except (IndexError_, OSError, ValueError):  # pydantic's ValidationError is a ValueError
        pass
    return app.settings.embedder


def _knowledge_tab(app: WebApp) -> tuple[gr.HTML, gr.File, gr.HTML, gr.Dropdown, tuple]:
    minutes = max(1, round(app.settings.max_file_passages / embed_rate(_upload_embedder(app)) / 60))
    gr.Markdown(
        f"上传政策文件（{'、'.join(UPLOAD_TYPES)}，不超过 {app.settings.max_upload_mb:g} MB）：在单独的入库进程中校验、估算并建立索引，"
        f"成功后才存入知识库；未通过的文件不会加入知识库，原因列在下方。单个文件最多新增 {app.settings.max_file_passages:,} 段向量（约 {minutes} 分钟）。"
        "问答立即使用新索引，入库期间照常可用。"
    )
    upload = gr.File(label="上传政策文件", file_types=UPLOAD_TYPES, elem_id="kp-upload")
    status = gr.HTML(elem_id="kp-upload-status")
    gr.Markdown("**已收录的文件**")
    docs = gr.HTML(elem_id="kp-docs")
    gr.Markdown("**查看或删除文件**")
    with gr.Row():
        doc = gr.Dropdown(label="文件", choices=[], scale=4, elem_id="kp-doc")
        remove = gr.Button("删除这个文件", variant="stop", size="sm", scale=1, elem_id="kp-remove")
    with gr.Row(visible=False) as confirm_row:
        confirm = gr.Button("确认删除", variant="stop", size="sm", elem_id="kp-remove-confirm")
        cancel = gr.Button("取消", size="sm", elem_id="kp-remove-cancel")
    remove_status = gr.HTML(elem_id="kp-remove-status")
    clauses = gr.HTML(elem_id="kp-clauses")

    def on_ask(name: str | None) -> tuple:
        text, ok = app.ask_remove(name)
        return text, gr.Row(visible=ok)

    def on_pick(name: str | None) -> tuple:
        # another file chosen: the question about the previous one goes. Emptied after a removal:
        # its 已删除 stays. (One handler: a second could run after a 删除 click and wipe its question.)
        if not name:
            return app.clauses_view(name), gr.skip(), gr.skip()
        return app.clauses_view(name), "", gr.Row(visible=False)

    doc.change(on_pick, doc, [clauses, remove_status, confirm_row], api_visibility="private")
    remove.click(on_ask, doc, [remove_status, confirm_row], api_visibility="private")
    cancel.click(lambda: (R.notice_html("已取消，文件未删除。"), gr.Row(visible=False)), None, [remove_status, confirm_row], api_visibility="private")
    return docs, upload, status, doc, (confirm, confirm_row, remove_status, clauses)  # build_app wires the removal: it refreshes every tab


# -- serving --------------------------------------------------------------------------------------------
def server_app(demo: gr.Blocks, host: str = HOST, port: int = DEFAULT_PORT) -> FastAPI:
    """One FastAPI app: the OpenAI-compatible API at /v1 and the Gradio UI (with its own API) at /."""
    web: WebApp = demo.web_app  # type: ignore[attr-defined]
    key = check_binding(host, web.settings)
    app = FastAPI(title=TITLE, docs_url=None, redoc_url=None, openapi_url="/v1/openapi.json")
    openai_api.install(app, web, key, ANSWER_CONCURRENCY)
    demo.queue(default_concurrency_limit=1)  # uploads and evaluations: one at a time
    limit = getattr(demo, "max_upload_bytes", None)
    app.add_middleware(ChinesePage)
    return gr.mount_gradio_app(
        app, demo, path="/", server_name=host, server_port=port, css=CSS, head=HEAD + UPLOAD_JS.replace("LIMIT", str(limit or 0)), i18n=I18N,
        ssr_mode=False, show_error=True, footer_links=["api"], max_file_size=limit,
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn, ending Gradio's open event streams (its heartbeats) on exit: shutdown waits for open
    connections, and a heartbeat never ends on its own."""

    def __init__(self, config: uvicorn.Config, stop_event: Any) -> None:
        super().__init__(config)
        self._stop_event = stop_event
        self._loop: Any = None

    async def serve(self, sockets: Any = None) -> None:
        import asyncio

        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def end_streams(self) -> None:
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop_event.set)

    def handle_exit(self, sig: int, frame: Any) -> None:  # SIGINT / SIGTERM
        self.end_streams()
        super().handle_exit(sig, frame)


class Server:
    """uvicorn serving `server_app`: `run()` in the foreground (app.py), or `start()` in a thread, which
    returns once it listens (tests, embedding), and `close()`."""

    def __init__(self, demo: gr.Blocks, port: int = DEFAULT_PORT, host: str = HOST) -> None:
        self.demo, self.host, self.port = demo, host, port
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
        app = server_app(demo, host, port)
        gradio_app = next((r.app for r in app.routes if isinstance(r, Mount)), None)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=10)
        self.server = _Uvicorn(config, getattr(gradio_app, "stop_event", None))
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        self.server.run()

    def start(self, timeout: float = 120) -> "Server":
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout  # a sanity bound on a busy machine, not a speed requirement
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"服务未能在 {self.host}:{self.port} 启动")
            time.sleep(0.05)
        return self

    def close(self) -> None:
        self.server.end_streams()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.demo.close(verbose=False)


def launch_app(demo: gr.Blocks, port: int = DEFAULT_PORT, *, host: str = HOST, prevent_thread_lock: bool = False) -> Server:
    """Serve the UI and /v1 on host:port; blocks unless prevent_thread_lock (then call .close())."""
    server = Server(demo, port, host)
    if prevent_thread_lock:
        return server.start()
    server.run()
    return server
