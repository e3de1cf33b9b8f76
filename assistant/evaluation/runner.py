"""Run question sets through systems and write metrics.json, a Markdown report and charts."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.evaluation.metrics import is_miss, summarize
from assistant.evaluation.questions import EvalQuestion
from assistant.evaluation.systems import System
from assistant.models import Answer


class Miss(BaseModel):
    id: str
    question: str
    history: list[str] = Field(default_factory=list)
    expected: str
    got: str
    cited: list[str]


class SystemResult(BaseModel):
    name: str
    overall: dict[str, float]
    by_category: dict[str, dict[str, float]]
    misses: list[Miss] = Field(default_factory=list)


class EvalReport(BaseModel):
    questions: str
    systems: list[SystemResult]

    def metric(self, name: str, system: int = 0) -> float | None:
        return self.systems[system].overall.get(name)


def _expected(q: EvalQuestion) -> str:
    if not q.answerable:
        return "（应拒答）"
    if q.gold_answer:
        return f"{q.gold_doc}: {q.gold_answer}"
    return f"{', '.join(q.gold_clauses)} — {'、'.join(q.facts)}"


def evaluate(
    questions: list[EvalQuestion], systems: list[System], label: str, progress: Callable[[int, int, str], None] | None = None
) -> EvalReport:
    results = []
    total = len(questions) * len(systems)
    done = 0
    for system in systems:
        system.run("预热", [])  # load models and indexes before the clock matters
        pairs: list[tuple[EvalQuestion, Answer]] = []
        for q in questions:
            pairs.append((q, system.run(q.question, q.history)))
            done += 1
            if progress:
                progress(done, total, system.name)
        categories = sorted({q.category for q in questions})
        by_category = {c: summarize([(q, a) for q, a in pairs if q.category == c]) for c in categories}
        misses = [
            Miss(id=q.id, question=q.question, history=q.history, expected=_expected(q), got=a.answer[:300], cited=[f"{c.doc}:{c.clause_id}" for c in a.citations[:5]])
            for q, a in pairs
            if is_miss(q, a)
        ]
        misses.sort(key=lambda m: 0 if "应拒答" in m.expected else 1)
        results.append(SystemResult(name=system.name, overall=summarize(pairs), by_category=by_category, misses=misses))
    return EvalReport(questions=label, systems=results)


CATEGORY_METRICS = ("questions", "hit@1", "hit@5", "facts", "span@5", "refusal_accuracy", "false_refusal")
HEADLINE = ("hit@1", "hit@3", "hit@5", "mrr", "facts", "lead_facts", "span@1", "span@5", "citation_precision", "char_f1", "rouge_l", "lead_rouge_l", "refusal_accuracy", "false_refusal", "latency_p50_ms", "latency_p95_ms")


def format_metric(value: float | None, name: str) -> str:
    if value is None:
        return "–"
    if name == "questions":
        return f"{value:.0f}"
    return f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}"


def markdown(report: EvalReport, charts: list[str]) -> str:
    names = [s.name for s in report.systems]
    metrics = [m for m in HEADLINE if any(m in s.overall for s in report.systems)]
    lines = [f"# 评测报告：{report.questions}", "", f"问题数：{int(report.systems[0].overall.get('questions', 0))}", "", "## 系统对比", ""]
    lines.append("| 指标 | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for m in metrics:
        lines.append(f"| {m} | " + " | ".join(format_metric(s.overall.get(m), m) for s in report.systems) + " |")
    main = report.systems[0]
    lines += ["", f"## 分类指标（{main.name}）", ""]
    cat_metrics = [m for m in CATEGORY_METRICS if any(m in v for v in main.by_category.values())]
    lines.append("| 类别 | " + " | ".join(cat_metrics) + " |")
    lines.append("|---|" + "---|" * len(cat_metrics))
    for cat, values in main.by_category.items():
        lines.append(f"| {cat} | " + " | ".join(format_metric(values.get(m), m) for m in cat_metrics) + " |")
    lines += ["", "## 图表", ""] + [f"![{c}]({c})" for c in charts]
    lines += ["", f"## 最差的未命中（{main.name}，共 {len(main.misses)} 条，列出前 20 条）", ""]
    for miss in main.misses[:20]:
        history = f"（前文：{' / '.join(miss.history)}）" if miss.history else ""
        got = miss.got.replace("\n", " ")
        lines += [f"- **{miss.question}**{history}", f"  - 期望：{miss.expected}", f"  - 实际：{got}", f"  - 引用：{', '.join(miss.cited)}"]
    return "\n".join(lines) + "\n"


def charts(report: EvalReport, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    metrics = [m for m in ("hit@1", "hit@5", "mrr", "facts", "span@5", "citation_precision", "refusal_accuracy") if any(m in s.overall for s in report.systems)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(report.systems))
    for i, system in enumerate(report.systems):
        ax.bar([x + i * width for x in range(len(metrics))], [system.overall.get(m, 0) for m in metrics], width, label=system.name)
    ax.set_xticks([x + width * (len(report.systems) - 1) / 2 for x in range(len(metrics))], metrics)
    ax.set_ylim(0, 1.05)
    ax.set_title("Quality by system")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(report.systems), frameon=False)  # below: bars reach 1.0
    fig.tight_layout()
    fig.savefig(out / "systems.png", dpi=110)
    plt.close(fig)
    files.append("systems.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = [s.name for s in report.systems]
    ax.bar(names, [s.overall.get("latency_p50_ms", 0) for s in report.systems], label="p50")
    ax.bar(names, [s.overall.get("latency_p95_ms", 0) - s.overall.get("latency_p50_ms", 0) for s in report.systems],
           bottom=[s.overall.get("latency_p50_ms", 0) for s in report.systems], label="p95 (stacked)")
    ax.set_ylabel("ms")
    ax.set_title("Latency per question")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    files.append("latency.png")

    main = report.systems[0]
    cats = list(main.by_category)
    key = "hit@1" if any("hit@1" in v for v in main.by_category.values()) else "refusal_accuracy"
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar(cats, [main.by_category[c].get(key, main.by_category[c].get("refusal_accuracy", 0)) for c in cats])
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{main.name}: {key} by category (refusal accuracy where nothing is answerable)")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(out / "categories.png", dpi=110)
    plt.close(fig)
    files.append("categories.png")
    return files


def write_report(report: EvalReport, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
    files = charts(report, out)
    path = out / "report.md"
    path.write_text(markdown(report, files), encoding="utf-8")
    return path


def check_thresholds(report: EvalReport, fail_under: list[str]) -> list[str]:
    """`metric=value` floors for the first system; `false_refusal` and latencies are ceilings."""
    failures = []
    for item in fail_under:
        name, _, value = item.partition("=")
        actual = report.metric(name.strip())
        limit = float(value)
        if actual is None:
            failures.append(f"{name}: not measured on these questions")
        elif name.startswith(("false_refusal", "latency")):
            if actual > limit:
                failures.append(f"{name} = {actual:.3f} > {limit}")
        elif actual < limit:
            failures.append(f"{name} = {actual:.3f} < {limit}")
    return failures
