"""HTML for the web UI, built only from escaped text.

Every string that comes from a question, an answer or a knowledge file goes through `esc` before it
is put next to markup; the markup itself is constant. Output is a single line: the chat renders
messages as Markdown, and a one-line block that starts with a tag is passed through as raw HTML
(a blank line would end it, an indented line would become code).
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from assistant.answering.verify import UNVERIFIED  # the mark of a sentence its clauses do not support
from assistant.models import Citation, DocumentMeta, FileError, Indicator, IngestReport

REF = re.compile(r"\[(\d{1,3})\]")


def esc(text: object) -> str:
    """Escaped text with line breaks kept visible."""
    return html.escape(str(text), quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def _inline(line: str) -> str:
    # [n] markers become superscripts; the pattern matches digits only, so nothing escaped is undone;
    # 未核实 marks are set off (a constant string, the same escaped or not)
    html_line = REF.sub(r'<sup class="kp-ref">[\1]</sup>', esc(line))
    return html_line.replace(UNVERIFIED, f'<span class="kp-unverified">{UNVERIFIED}</span>')


def question_html(text: str) -> str:
    """A user's question, as typed."""
    return f'<div class="kp-question">{esc(text)}</div>'


def answer_html(text: str) -> str:
    """The answer text: paragraphs, and `- ` lines as a list."""
    parts: list[str] = []
    items: list[str] = []
    for line in text.split("\n"):
        if line.startswith("- "):
            items.append(f"<li>{_inline(line[2:])}</li>")
            continue
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line.strip():
            parts.append(f"<p>{_inline(line)}</p>")
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    return '<div class="kp-answer">' + "".join(parts) + "</div>"


def quote_spans(text: str, quotes: Iterable[str]) -> list[tuple[int, int]]:
    """Where the quoted sentences occur in the clause text, overlapping spans merged."""
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        quote = quote.strip()
        if not quote:
            continue
        start = text.find(quote)
        while start != -1:
            spans.append((start, start + len(quote)))
            start = text.find(quote, start + len(quote))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def highlight(text: str, quotes: Iterable[str]) -> str:
    """The clause text escaped, with the quoted sentences in <mark>: each piece is escaped on its own."""
    out: list[str] = []
    pos = 0
    for a, b in quote_spans(text, quotes):
        out.append(esc(text[pos:a]))
        out.append(f"<mark>{esc(text[a:b])}</mark>")
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


def citation_card(citation: Citation, meta: DocumentMeta | None) -> str:
    """Document title, clause path, 文号 and 状态, and the full clause (collapsed) with quotes marked."""
    title = citation.doc_title or (meta.title if meta else citation.doc)
    number = meta.get("文号") if meta else ""
    status = meta.get("状态") if meta else ""
    facts = [f"文号：{esc(number or '未注明')}", f"状态：{esc(status or '未注明')}", f"条款：{esc(citation.clause_id)}"]
    kind = "引用" if citation.quotes else "相关"
    return (
        '<div class="kp-card">'
        f'<div class="kp-card-head"><span class="kp-n">[{citation.n}]</span> <span class="kp-kind">{kind}</span> '
        f'<span class="kp-doc">《{esc(title)}》</span></div>'
        f'<div class="kp-path">{esc(citation.title)}</div>'
        f'<div class="kp-meta">{" ｜ ".join(facts)}</div>'
        f'<details class="kp-details"><summary>查看条款全文</summary>'
        f'<div class="kp-text">{highlight(citation.text, citation.quotes)}</div></details>'
        "</div>"
    )


def citations_html(citations: Sequence[Citation], docs: dict[str, DocumentMeta], answer: str = "") -> str:
    """Cards of the clauses the answer quotes or refers to ([n]); the other related clauses folded away."""
    if not citations:
        return ""
    referred = {int(n) for n in REF.findall(answer)}
    main = [c for c in citations if c.quotes or c.n in referred] or list(citations[:1])
    rest = [c for c in citations if c not in main]
    cards = "".join(citation_card(c, docs.get(c.doc)) for c in main)
    more = (
        f'<details class="kp-more"><summary>其他相关条款（{len(rest)}）</summary>'
        + "".join(citation_card(c, docs.get(c.doc)) for c in rest)
        + "</details>"
        if rest
        else ""
    )
    return f'<div class="kp-cites"><div class="kp-cites-label">引用条款</div>{cards}{more}</div>'


def message_html(answer: str, citations: Sequence[Citation] = (), docs: dict[str, DocumentMeta] | None = None, notice: str = "") -> str:
    """One assistant message: the answer, its notice (an LLM fallback, sentences 未核实), then its citation cards."""
    return '<div class="kp-msg">' + answer_html(answer) + (notice_html(notice) if notice else "") + citations_html(citations, docs or {}, answer) + "</div>"


def notice_html(text: str, kind: str = "info") -> str:
    """A short status line; kind is one of info, ok, error (a CSS class, never user text)."""
    kind = kind if kind in ("info", "ok", "error") else "info"
    return f'<div class="kp-notice kp-{kind}">{esc(text)}</div>'


def table_html(headers: Sequence[str], rows: Iterable[Sequence[str]], raw_columns: Sequence[int] = (), css_class: str = "") -> str:
    """A table of escaped cells; `raw_columns` are cells the caller already built from escaped parts.
    `css_class` is a constant of the caller, never user text."""
    head = "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead>" if any(headers) else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw_columns else esc(cell)}</td>" for i, cell in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<table class="kp-table {css_class}">{head}<tbody>{body}</tbody></table>'


def collapsible(summary: str, text: str) -> str:
    return f'<details class="kp-details"><summary>{esc(summary)}</summary><div class="kp-text">{esc(text)}</div></details>'


def measure_name(title: str) -> str:
    """The last heading of a clause path without its number: `深化对台人才科创合作`."""
    last = title.split(" > ")[-1] if title else ""
    return re.sub(r"^\s*(\d+|[一二三四五六七八九十]+)\s*[.、．]\s*", "", last) or last


def ingest_summary(report: IngestReport, added: str | None = None) -> str:
    """What the re-ingest did, with each file's error."""
    lines = []
    if added:
        lines.append(notice_html(f"已加入知识库：{added}", "ok"))
    lines.append(
        notice_html(
            f"索引已更新：文件 {report.documents} 个，条款 {report.clauses} 条；新增 {len(report.new)}，更新 {len(report.changed)}，"
            f"未变 {len(report.unchanged)}，移除 {len(report.removed)}；新计算向量 {report.embedded} 条；用时 {report.seconds:.1f} 秒。",
            "info",
        )
    )
    if report.notice:
        lines.append(notice_html(report.notice, "info"))
    lines.append(file_errors_html(report.errors))
    return "".join(lines)


def file_errors_html(errors: Sequence[FileError]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li><b>{esc(_basename(e.path))}</b>：{esc(e.message)}</li>" for e in errors)
    return f'<div class="kp-notice kp-error">以下文件未能入库：<ul>{items}</ul></div>'


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def indicator_rows(indicators: Sequence[Indicator], docs: dict[str, DocumentMeta]) -> list[list[str]]:
    return [
        [group_label(i.group), i.indicator, i.value, i.unit, i.clause_id, docs[i.doc].title if i.doc in docs else i.doc] for i in indicators
    ]


def group_label(group: str) -> str:
    """`——人才集聚迈上新台阶` → `人才集聚迈上新台阶`."""
    return group.lstrip("—-－ ").strip() or group
