"""The 评测 tab: score a question file in the browser with the same runner as `assistant eval`.

A question file (uploaded, in either format `assistant.evaluation.questions` reads, or the bundled dev
set) is checked line by line first: a bad file gets a message naming its lines and nothing runs. A run
goes through `evaluate` and `write_report` (metrics.json, report.md, charts) into its own directory
`eval/out/web-<timestamp>`, which is zipped for download. The page shows the overall metrics of each
system side by side, the metrics per category, the charts and the worst misses, all escaped.

Runs have their own queue (one at a time), apart from the chat's, so an evaluation never holds a
chat question back. `EvalTab` holds everything the UI does as plain methods; the tests call them.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import BaseModel, ValidationError

from assistant.evaluation.questions import EvalQuestion, question_from_row
from assistant.evaluation.runner import CATEGORY_METRICS, HEADLINE, EvalReport, SystemResult, evaluate, format_metric, write_report
from assistant.evaluation.systems import build_systems
from assistant.interfaces import web_render as R
from assistant.retrieval.index import IndexError_
from assistant.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

DEV_SET = PROJECT_ROOT / "eval" / "questions.jsonl"
EVAL_QUEUE = "eval"  # its own concurrency group: one run at a time, never in the chat's queue
MAX_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 2000
MAX_LINE_ERRORS = 8  # a file with more bad lines is reported with the first few
KEEP_RUNS = 20  # older web-* run directories are removed
MISSES_SHOWN = 20
FILE_TYPES = [".jsonl", ".json", ".txt"]
# (label, value): the value is a `build_systems` name; the assistant is first (the gated system)
SYSTEMS = [("助手（assistant）", "assistant"), ("bm25-only", "bm25"), ("dense-only", "dense"), ("naive-langchain", "naive")]
DEFAULT_SYSTEMS = ["assistant"]
METRIC_NOTES = {
    "questions": "题数",
    "hit@1": "第 1 条引用即标准条款（或文件）的比例",
    "hit@3": "前 3 条引用含标准条款",
    "hit@5": "前 5 条引用含标准条款",
    "mrr": "标准条款名次倒数的平均",
    "facts": "回答包含全部要点的比例",
    "lead_facts": "回答首行即包含全部要点的比例",
    "span@1": "第 1 条引用含标准答案原文",
    "span@5": "前 5 条引用含标准答案原文",
    "citation_precision": "引用确实支持所述句子的比例",
    "char_f1": "与标准答案的字符 F1",
    "rouge_l": "与标准答案的 ROUGE-L",
    "lead_rouge_l": "回答首行（最短答案）与标准答案的 ROUGE-L",
    "refusal_accuracy": "无法回答的问题被正确拒答的比例",
    "false_refusal": "可回答的问题被误拒的比例（越低越好）",
    "latency_p50_ms": "每题用时中位数，毫秒（越低越好）",
    "latency_p95_ms": "每题用时 95 分位，毫秒（越低越好）",
}
LOWER_IS_BETTER = ("false_refusal", "latency_p50_ms", "latency_p95_ms")

Progress = Callable[..., Any]


class EvalInputError(ValueError):
    """A question file that cannot be evaluated; the message says why, in words for the page."""


# -- question files ---------------------------------------------------------------------------------------
def load_question_file(path: str | Path) -> list[EvalQuestion]:
    """The questions of a JSONL file in either format, or EvalInputError naming the bad lines."""
    path = Path(path)
    if not path.is_file():
        raise EvalInputError("找不到题目文件，请重新上传。")
    size = path.stat().st_size
    if size == 0:
        raise EvalInputError("文件是空的。")
    if size > MAX_BYTES:
        raise EvalInputError(f"文件太大（{size / 1024 / 1024:.1f} MB），上限 {MAX_BYTES // 1024 // 1024} MB。")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise EvalInputError("这不是文本文件：需要 UTF-8 编码的 JSONL（每行一个 JSON 对象）。")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalInputError(f"文件不是 UTF-8 编码（第 {exc.start} 字节）：需要 UTF-8 编码的 JSONL。") from None
    questions: list[EvalQuestion] = []
    errors: list[str] = []
    bad = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            questions.append(_question(line, number))
        except EvalInputError as exc:
            bad += 1
            if len(errors) < MAX_LINE_ERRORS:
                errors.append(f"第 {number} 行：{exc}")
        if len(questions) > MAX_QUESTIONS:
            raise EvalInputError(f"题目太多：上限 {MAX_QUESTIONS} 题。")
    if bad:
        more = f"；另有 {bad - len(errors)} 行有误" if bad > len(errors) else ""
        raise EvalInputError("文件未通过校验，未运行评测：" + "；".join(errors) + more + "。" + _FORMATS)
    if not questions:
        raise EvalInputError("文件里没有题目（只有空行）。")
    return questions


_FORMATS = (
    "每行应是一个 JSON 对象，二选一："
    '{"question", "gold_clauses", "facts", "category", "history", "answerable"}（开发集格式），'
    '或 {"question", "doc", "answer"}（答案片段格式）。'
)


def _question(line: str, number: int) -> EvalQuestion:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise EvalInputError(f"不是 JSON（{exc.msg}，第 {exc.colno} 列）") from None
    if not isinstance(row, dict):
        raise EvalInputError(f"应是 JSON 对象，却是 {type(row).__name__}")
    if "question" not in row:
        raise EvalInputError(f"缺少字段 question（有的字段：{', '.join(sorted(map(str, row))) or '无'}）")
    if not isinstance(row["question"], str) or not row["question"].strip():
        raise EvalInputError("question 应是非空字符串")
    try:
        q = question_from_row(row, number)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc'])) or '行'}：{e['msg']}" for e in exc.errors()[:3])
        raise EvalInputError(f"字段不对（{problems}）") from None
    except (KeyError, TypeError) as exc:
        raise EvalInputError(f"字段不对（{exc}）") from None
    if q.answerable and not (q.gold_clauses or q.facts or q.gold_doc):
        raise EvalInputError('没有标准答案：需要 gold_clauses / facts，或 doc + answer；无法回答的题写 "answerable": false')
    return q


def describe(questions: Sequence[EvalQuestion]) -> str:
    spans = sum(1 for q in questions if q.gold_answer)
    kinds = "答案片段格式" if spans == len(questions) else "开发集格式" if not spans else "两种格式混合"
    categories = sorted({q.category for q in questions})
    return f"{len(questions)} 题（{kinds}；类别 {len(categories)} 个：{'、'.join(categories[:12])}{' 等' if len(categories) > 12 else ''}）"


# -- runs -------------------------------------------------------------------------------------------------
def default_out_root() -> Path:
    """The eval_out setting ($ASSISTANT_EVAL_OUT), else eval/out of the project when the server runs
    inside it (Gradio serves files under its working directory), else a folder in the system temp
    directory. Read when a run starts, so a changed setting applies without a restart."""
    configured = Settings().eval_out  # a blank value is already None
    if configured is not None:
        return configured
    out = PROJECT_ROOT / "eval" / "out"
    try:
        out.resolve().relative_to(Path.cwd().resolve())
        return out
    except ValueError:
        return Path(tempfile.gettempdir()) / "kunshan-eval"


def new_run_dir(root: Path) -> Path:
    """A fresh `web-<timestamp>` directory (with -2, -3 … when two runs start in the same second)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("web-%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        candidate = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run directory under {root}")


def prune_runs(root: Path, keep: int = KEEP_RUNS) -> None:
    runs = sorted((p for p in root.glob("web-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


class KBDocument(BaseModel):
    """A document of the knowledge base a run answered from."""

    doc: str
    title: str
    file: str
    sha256: str
    clauses: int


class KnowledgeBase(BaseModel):
    """What a run was scored against: the serving build and its documents with their content hashes."""

    build: str
    documents: list[KBDocument]


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """The build that serves now: the run answers from it (an upload meanwhile swaps in a new one only
    for questions asked afterwards, and the run is then reported against the build it started on)."""
    from assistant.retrieval.retriever import open_searcher

    index = open_searcher(Path(settings.index_dir)).index
    counts: dict[str, int] = {}
    for c in index.clauses:
        if c.window == 0:
            counts[c.doc] = counts.get(c.doc, 0) + 1
    docs = [
        KBDocument(doc=d, title=m.title, file=Path(m.path).name if m.path else d, sha256=m.sha256, clauses=counts.get(d, 0))
        for d, m in sorted(index.docs.items())
    ]
    return KnowledgeBase(build=Path(index.build).name, documents=docs)


def knowledge_markdown(kb: KnowledgeBase) -> str:
    lines = ["", "## 知识库", "", f"评测所用的索引版本：`{kb.build}`，文件 {len(kb.documents)} 个。", "",
             "| 文件 | 标题 | 条款数 | 内容 SHA-256 |", "|---|---|---|---|"]
    lines += [f"| {d.file} | {d.title} | {d.clauses} | `{d.sha256}` |" for d in kb.documents]
    return "\n".join(lines) + "\n"


def knowledge_html(kb: KnowledgeBase) -> str:
    rows = [[d.file, d.title, str(d.clauses), d.sha256[:12]] for d in kb.documents]
    table = R.table_html(["文件", "标题", "条款数", "内容哈希（SHA-256 前 12 位）"], rows, css_class="kp-measures")
    return f'<div class="kp-eval-block"><h3>评测所用的知识库（{len(kb.documents)} 个文件）</h3>{table}</div>'


class EvalRun(BaseModel):
    report: EvalReport
    knowledge: KnowledgeBase | None = None
    out_dir: Path
    report_md: Path
    metrics_json: Path
    charts: list[Path]
    zip_path: Path
    seconds: float

    @property
    def downloads(self) -> list[str]:
        return [str(self.zip_path), str(self.report_md), str(self.metrics_json)]


def run_eval(
    questions: list[EvalQuestion],
    label: str,
    system_names: Sequence[str],
    settings: Settings,
    out_root: Path | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Score the questions with the named systems and write the report, charts and a zip of them."""
    started = time.perf_counter()
    report_progress = progress if progress is not None else (lambda *a, **k: None)  # gr.Progress is falsy (len 0)
    kb = knowledge_base(settings)
    systems = _load_systems(list(system_names), settings, report_progress)

    def step(done: int, total: int, name: str) -> None:  # one bar per system: "bm25-only（系统 2/3）: 17 / 200 题"
        per_system = len(questions)
        count = total // per_system
        desc = name if count == 1 else f"{name}（系统 {(done - 1) // per_system + 1}/{count}）"
        report_progress(((done - 1) % per_system + 1, per_system), desc=desc, unit="题")

    report = evaluate(questions, systems, label, step)
    report_progress(1.0, desc="写报告和图表…")
    root = out_root or default_out_root()
    out = new_run_dir(root)
    (out / "questions.jsonl").write_text(
        "".join(q.model_dump_json(exclude_defaults=True) + "\n" for q in questions), encoding="utf-8"
    )
    report_md = write_report(report, out)
    with report_md.open("a", encoding="utf-8") as fh:  # which documents the numbers are about
        fh.write(knowledge_markdown(kb))
    (out / "knowledge_base.json").write_text(kb.model_dump_json(indent=1), encoding="utf-8")
    charts = [out / name for name in ("systems.png", "latency.png", "categories.png") if (out / name).exists()]
    zip_path = out / f"eval-report-{out.name}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.iterdir()):
            if path != zip_path and path.is_file():
                zf.write(path, arcname=path.name)
    prune_runs(root)
    return EvalRun(
        report=report, knowledge=kb, out_dir=out, report_md=report_md, metrics_json=out / "metrics.json", charts=charts,
        zip_path=zip_path, seconds=time.perf_counter() - started,
    )


def _load_systems(names: list[str], settings: Settings, progress: Progress) -> list:
    """Build the systems and answer one question with each, so the models and indexes they open are
    loaded before the first scored question; the bar says which system loads and for how long (this
    took half a minute at 0% before)."""
    import threading

    systems = build_systems(names, Path(settings.index_dir), Path(settings.knowledge_dir), settings)
    for i, system in enumerate(systems):
        done = threading.Event()
        failed: list[BaseException] = []

        def warm(system=system) -> None:
            try:
                system.run("人才", [])
            except BaseException as exc:  # raised again below, in the handler's thread
                failed.append(exc)
            finally:
                done.set()

        threading.Thread(target=warm, name=f"eval-load-{system.name}", daemon=True).start()
        started = time.monotonic()
        while not done.wait(0.5):
            progress((i, len(systems)), desc=f"加载评测系统 {system.name}（{i + 1}/{len(systems)}，已用 {time.monotonic() - started:.0f} 秒）", unit="个系统")
        if failed:
            raise failed[0]
        progress((i + 1, len(systems)), desc=f"已加载 {system.name}", unit="个系统")
    return systems


# -- HTML -----------------------------------------------------------------------------------------------
def _best(values: list[float | None], metric: str) -> float | None:
    present = [v for v in values if v is not None]
    if len(present) < 2 or metric in ("questions",):
        return None
    return min(present) if metric in LOWER_IS_BETTER else max(present)


def metrics_html(report: EvalReport) -> str:
    """The overall metrics, one column per system; the best value of each row in bold."""
    metrics = [m for m in ("questions", *HEADLINE) if any(m in s.overall for s in report.systems)]
    rows = []
    for m in metrics:
        values = [s.overall.get(m) for s in report.systems]
        best = _best(values, m)
        cells = [
            f"<b>{R.esc(format_metric(v, m))}</b>" if best is not None and v == best else R.esc(format_metric(v, m))
            for v in values
        ]
        rows.append([m, METRIC_NOTES.get(m, ""), *cells])
    raw = list(range(2, 2 + len(report.systems)))
    table = R.table_html(["指标", "说明", *[s.name for s in report.systems]], rows, raw_columns=raw, css_class="kp-eval-overall")
    return f'<div class="kp-eval-block"><h3>总体指标</h3>{table}</div>'


def _category_table(system: SystemResult) -> str:
    metrics = [m for m in CATEGORY_METRICS if any(m in v for v in system.by_category.values())]
    rows = [[category, *(format_metric(values.get(m), m) for m in metrics)] for category, values in system.by_category.items()]
    return R.table_html(["类别", *metrics], rows)


def categories_html(report: EvalReport) -> str:
    """Per-category metrics of each system (the first one open)."""
    parts = []
    for i, system in enumerate(report.systems):
        opened = " open" if i == 0 else ""
        parts.append(
            f'<details class="kp-details"{opened}><summary>{R.esc(system.name)}：分类指标</summary>{_category_table(system)}</details>'
        )
    return '<div class="kp-eval-block"><h3>分类指标</h3>' + "".join(parts) + "</div>"


def _misses_table(system: SystemResult, limit: int) -> str:
    shown = system.misses[:limit]
    docs = {c.split(":", 1)[0] for miss in shown for c in miss.cited}
    one_doc = len(docs) == 1  # then the clause ids alone, and the document once in the header
    rows = []
    for i, miss in enumerate(shown, start=1):
        question = miss.question + (f"\n（前文：{' / '.join(miss.history)}）" if miss.history else "")
        cited = [c.split(":", 1)[-1] for c in miss.cited] if one_doc else miss.cited
        rows.append([str(i), miss.id, question, miss.expected, miss.got, "\n".join(cited) or "（无）"])
    cited_head = f"引用（{next(iter(docs))}）" if one_doc else "引用"
    return R.table_html(["#", "编号", "问题", "期望", "实际回答", cited_head], rows, css_class="kp-eval-misses")


def misses_html(report: EvalReport, limit: int = MISSES_SHOWN) -> str:
    """The worst misses of each system: wrongly answered unanswerable questions first."""
    parts = []
    for i, system in enumerate(report.systems):
        opened = " open" if i == 0 else ""
        count = len(system.misses)
        head = f"{system.name}：未命中 {count} 题" + (f"，列出前 {limit} 题" if count > limit else "")
        body = _misses_table(system, limit) if count else R.notice_html("没有未命中的题。", "ok")
        parts.append(f'<details class="kp-details"{opened}><summary>{R.esc(head)}</summary>{body}</details>')
    return '<div class="kp-eval-block"><h3>最差的未命中</h3>' + "".join(parts) + "</div>"


def summary_html(run: EvalRun, described: str) -> str:
    names = "、".join(s.name for s in run.report.systems)
    kb = f"知识库 {len(run.knowledge.documents)} 个文件（见下方列表）；" if run.knowledge else ""
    return R.notice_html(
        f"评测完成：{run.report.questions}，{described}；系统：{names}；{kb}用时 {run.seconds:.1f} 秒。报告（{run.out_dir.name}）可在下方下载。",
        "ok",
    )


# -- what the tab does ----------------------------------------------------------------------------------
class EvalView(BaseModel):
    """Everything the tab shows after a run (or a refused one)."""

    ok: bool
    status: str
    metrics: str = ""
    categories: str = ""
    charts: list[str] = []
    plots: dict[str, list] = {}  # rows of the native charts (plot_rows)
    misses: str = ""
    downloads: list[str] = []
    run: EvalRun | None = None

    def outputs(self) -> tuple:
        return (self.status, self.metrics, self.categories, self.plots, self.misses, self.downloads or None)


CHART_METRICS = ("hit@1", "hit@5", "facts", "citation_precision", "refusal_accuracy", "false_refusal")


def plot_rows(report: EvalReport) -> dict[str, list]:
    """The rows of the page's native charts: each system's headline metrics, and hit@1 per category."""
    many = len(report.systems) > 1
    overall = [
        {"指标": f"{m}｜{s.name}" if many else m, "数值": round(float(s.overall[m]), 3), "系统": s.name}
        for m in CHART_METRICS for s in report.systems if s.overall.get(m) is not None
    ]
    first = report.systems[0] if report.systems else None
    categories = [
        {"类别": c, "hit@1": round(float(v["hit@1"]), 3)} for c, v in (first.by_category.items() if first else []) if v.get("hit@1") is not None
    ]
    return {"overall": overall, "categories": categories, "system": [first.name] if first else []}


class EvalTab:
    """The 评测 tab's handlers, independent of the page (the tests call them directly)."""

    def __init__(self, settings: Settings, out_root: Path | None = None, warm_up: Any = None) -> None:
        self.settings = settings
        self.out_root = out_root
        self.warm_up = warm_up

    def choices(self) -> list[tuple[str, str]]:
        """The systems on offer: the LLM mode too when a model is configured."""
        from assistant.answering.factory import llm_configured

        extra = [(f"大模型（llm:{self.settings.llm_model}）", "llm")] if llm_configured(self.settings) else []
        return SYSTEMS[:1] + extra + SYSTEMS[1:]

    def systems(self, chosen: Sequence[str] | None) -> list[str]:
        """The chosen systems in the page's order (the assistant first); EvalInputError when none."""
        known = [value for _, value in self.choices()]
        chosen = list(chosen or [])
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise EvalInputError(f"未知的系统：{'、'.join(map(str, unknown))}。")
        names = [value for value in known if value in chosen]
        if not names:
            raise EvalInputError("请至少选择一个要评测的系统。")
        return names

    def run(self, source: str, upload: str | Path | None, systems: Sequence[str] | None, progress: Progress | None = None) -> EvalView:
        """Evaluate the dev set (source "dev") or the uploaded file (source "upload")."""
        try:
            names = self.systems(systems)
            if source == "dev":
                path, label = DEV_SET, f"内置开发集 {DEV_SET.name}"
            elif not upload:
                raise EvalInputError("请先上传题目文件（JSONL），或点“评测内置开发集”。")
            else:
                path, label = Path(upload), Path(upload).name
            questions = load_question_file(path)
        except EvalInputError as exc:
            return EvalView(ok=False, status=R.notice_html(str(exc), "error"))
        if self.warm_up is not None:
            self.warm_up.wait()
        try:
            run = run_eval(questions, label, names, self.settings, self.out_root, progress)
        except IndexError_ as exc:
            return EvalView(ok=False, status=R.notice_html(f"知识库索引不可用：{exc}", "error"))
        except Exception as exc:  # shown on the page, and logged with its traceback
            log.exception("evaluation failed")
            return EvalView(ok=False, status=R.notice_html(f"评测出错（{type(exc).__name__}: {exc}）。", "error"))
        return EvalView(
            ok=True,
            status=summary_html(run, describe(questions)),
            metrics=metrics_html(run.report) + (knowledge_html(run.knowledge) if run.knowledge else ""),
            categories=categories_html(run.report),
            charts=[str(p) for p in run.charts],
            plots=plot_rows(run.report),
            misses=misses_html(run.report),
            downloads=run.downloads,
            run=run,
        )


# -- layout ---------------------------------------------------------------------------------------------
def eval_tab(app: Any, out_root: Path | None = None) -> EvalTab:
    """Build the 评测 tab inside the current gr.Tab of `build_app`; `app` is the WebApp."""
    tab = EvalTab(app.settings, out_root, getattr(app, "warm_up", None))
    gr.Markdown(
        "用题目文件评测问答质量（与命令行 `assistant eval` 相同的指标）。题目文件为 JSONL，每行一个 JSON 对象："
        "开发集格式 `{\"question\", \"gold_clauses\", \"facts\", …}`，或答案片段格式 `{\"question\", \"doc\", \"answer\"}`。"
        f"上限 {MAX_BYTES // 1024 // 1024} MB、{MAX_QUESTIONS} 题。评测单独排队，不影响问答。"
    )
    with gr.Row():
        with gr.Column(scale=3):
            upload = gr.File(label="题目文件（JSONL）", file_types=FILE_TYPES, type="filepath", elem_id="kp-eval-file")
        with gr.Column(scale=2):
            systems = gr.CheckboxGroup(
                choices=tab.choices(), value=DEFAULT_SYSTEMS, label="评测的系统（基线可选）", elem_id="kp-eval-systems"
            )
            run_upload = gr.Button("评测上传的文件", variant="primary", elem_id="kp-eval-run-upload")
            run_dev = gr.Button("评测内置开发集", elem_id="kp-eval-run-dev")
    status = gr.HTML(R.notice_html("选择要评测的系统，然后上传题目文件或评测内置开发集。进度按题显示在这里。"), min_height=80, elem_id="kp-eval-status")
    metrics = gr.HTML(elem_id="kp-eval-metrics")
    plots = gr.State({})

    # drawn anew for each run: an updated plot keeps showing its old bars (see the 目标 tab)
    @gr.render(inputs=[plots], triggers=[plots.change], concurrency_limit=1)
    def draw(rows: dict) -> None:
        if not rows or not rows.get("overall"):
            return
        import pandas as pd

        with gr.Row(elem_id="kp-eval-charts"):
            gr.BarPlot(pd.DataFrame(rows["overall"]), x="指标", y="数值", color="系统", title="各系统的总体指标（越高越好，误拒率越低越好）",
                       x_title="指标", y_title="数值（0–1）", y_lim=[0, 1], x_label_angle=-30, height=360, elem_id="kp-eval-plot-overall")
            if rows.get("categories"):
                gr.BarPlot(pd.DataFrame(rows["categories"]), x="类别", y="hit@1", title=f"各类别的首条命中率（{rows['system'][0]}）",
                           x_title="类别", y_title="hit@1", y_lim=[0, 1], x_label_angle=-30, height=360, elem_id="kp-eval-plot-categories")
    categories = gr.HTML(elem_id="kp-eval-categories")
    misses = gr.HTML(elem_id="kp-eval-misses")
    downloads = gr.File(label="下载报告（压缩包：报告、指标、图表、题目和所用知识库）", file_count="multiple", interactive=False, elem_id="kp-eval-download")
    outputs = [status, metrics, categories, plots, misses, downloads]

    def on_dev(chosen: list[str], progress: gr.Progress = gr.Progress()) -> tuple:
        return tab.run("dev", None, chosen, progress).outputs()

    def on_upload(file: str | None, chosen: list[str], progress: gr.Progress = gr.Progress()) -> tuple:
        return tab.run("upload", file, chosen, progress).outputs()

    queue = dict(
        outputs=outputs, concurrency_limit=1, concurrency_id=EVAL_QUEUE, api_visibility="private", show_progress="full", show_progress_on=[status]
    )
    run_dev.click(on_dev, [systems], **queue)
    run_upload.click(on_upload, [upload, systems], **queue)
    return tab
