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
    html_line = REF.sub(r'<sup class="kp-ref" title="跳到条款 [\1]">[\1]</sup>', esc(line))
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


KINDS = {  # the badge of a card, and what it means (shown as its tooltip and in the legend)
    "引用": "回答摘录了这一条款的原句",
    "相关": "与问题相关、供参考的条款，回答未直接摘录",
}
CARDS_SHOWN = 3  # more cited clauses than this (a long list answer) are folded: the cards look alike


def document_facts(meta: DocumentMeta | None) -> list[str]:
    number = meta.get("文号") if meta else ""
    status = meta.get("状态") if meta else ""
    return [f"文号：{esc(number or '未注明')}", f"状态：{esc(status or '未注明')}"]


def citation_card(citation: Citation, meta: DocumentMeta | None, with_document: bool = True) -> str:
    """Clause path and id, and the full clause (collapsed) with quotes marked; the document's title,
    文号 and 状态 too unless the card list names the one document they all come from
    (`with_document=False`). The card's class kp-c<n> is what its [n] marker scrolls to."""
    title = citation.doc_title or (meta.title if meta else citation.doc)
    kind = "引用" if citation.quotes else "相关"
    facts = (document_facts(meta) if with_document else []) + [f"条款：{esc(citation.clause_id)}"]
    doc = f' <span class="kp-doc">《{esc(title)}》</span>' if with_document else ""
    return (
        f'<div class="kp-card kp-c{citation.n}">'
        f'<div class="kp-card-head"><span class="kp-n">[{citation.n}]</span> <span class="kp-kind" title="{KINDS[kind]}">{kind}</span>{doc}</div>'
        f'<div class="kp-path">{esc(citation.title)}</div>'
        f'<div class="kp-meta">{" ｜ ".join(facts)}</div>'
        f'<details class="kp-details"><summary>查看条款全文</summary>'
        f'<div class="kp-text">{highlight(citation.text, citation.quotes)}</div></details>'
        "</div>"
    )


def citations_html(citations: Sequence[Citation], docs: dict[str, DocumentMeta], answer: str = "") -> str:
    """Cards of the clauses the answer quotes or refers to ([n]), the first few open and the others
    folded, then the other related clauses folded away. When every clause comes from one document,
    its title, 文号 and 状态 are said once above the cards instead of on each."""
    if not citations:
        return ""
    referred = {int(n) for n in REF.findall(answer)}
    main = [c for c in citations if c.quotes or c.n in referred] or list(citations[:1])
    rest = [c for c in citations if c not in main]
    one_doc = len({c.doc for c in citations}) == 1
    card = lambda c: citation_card(c, docs.get(c.doc), with_document=not one_doc)
    cards = "".join(card(c) for c in main[:CARDS_SHOWN])
    if len(main) > CARDS_SHOWN:
        cards += f'<details class="kp-more"><summary>其余 {len(main) - CARDS_SHOWN} 条引用条款</summary>' + "".join(card(c) for c in main[CARDS_SHOWN:]) + "</details>"
    if rest:
        cards += f'<details class="kp-more"><summary>其他相关条款（{len(rest)}）</summary>' + "".join(card(c) for c in rest) + "</details>"
    label = "引用条款"
    if one_doc:
        first = citations[0]
        meta = docs.get(first.doc)
        title = first.doc_title or (meta.title if meta else first.doc)
        label += f'：均出自《{esc(title)}》（{"，".join(document_facts(meta))}）'
    legend = "；".join(f"「{k}」{v}" for k, v in KINDS.items())
    return f'<div class="kp-cites"><div class="kp-cites-label">{label}</div><div class="kp-legend">{legend}。点击回答中的 [n] 可跳到对应条款。</div>{cards}</div>'


def message_html(answer: str, citations: Sequence[Citation] = (), docs: dict[str, DocumentMeta] | None = None, notice: str = "") -> str:
    """One assistant message: the answer, its notice (an LLM fallback, sentences 未核实), then its citation cards."""
    return '<div class="kp-msg">' + answer_html(answer) + (notice_html(notice) if notice else "") + citations_html(citations, docs or {}, answer) + "</div>"


def notice_html(text: str, kind: str = "info") -> str:
    """A short status line; kind is one of info, ok, error (a CSS class, never user text)."""
    kind = kind if kind in ("info", "ok", "error") else "info"
    text = chinese_reason(text) if kind == "error" else text  # the page says why in Chinese only
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


_ENGLISH_ASIDE = re.compile(r"（[^（）\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]*[A-Za-z]{3}[^（）\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]*）")


def chinese_reason(message: str) -> str:
    """A load or index error for the page: the English reason in parentheses, which the CLI and logs
    keep for searching, is dropped (`空文件，0 字节（empty file: 0 bytes）` → `空文件，0 字节`)."""
    return _ENGLISH_ASIDE.sub("", message).strip() or message


def short_title(title: str, limit: int = 24) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def conversation_markdown(records: Sequence[dict], docs: dict[str, DocumentMeta], heading: str, when: str) -> str:
    """A conversation as Markdown: question, answer (its [n] markers kept) and the cited clauses with
    their document, clause id, heading path and text. `records` are the chat's answer records."""
    lines = [f"# {heading}：对话记录", "", f"导出时间：{when}　共 {len(records)} 轮问答", ""]
    for i, record in enumerate(records, start=1):
        lines += [f"## 第 {i} 问：{record['question'].strip() or '（空）'}", "", record["answer"].strip(), ""]
        if record["citations"]:
            lines += ["**引用条款**", ""]
        for c in record["citations"]:
            meta = docs.get(c["doc"])
            title = meta.title if meta else c["doc"]
            number = f"，{meta.get('文号')}" if meta and meta.get("文号") else ""
            lines.append(f"- [{c['n']}] 《{title}》{number}　条款 {c['clause_id']}：{c['title']}")
            text = " ".join(c["text"].split())
            lines.append(f"  > {text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


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
    items = "".join(f"<li><b>{esc(_basename(e.path))}</b>：{esc(chinese_reason(e.message))}</li>" for e in errors)
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
