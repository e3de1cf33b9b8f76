"""File → ParsedDocument: load, read metadata, parse clauses and indicators."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from assistant.ingestion.indicators import extract_indicators
from assistant.ingestion.loaders import LoadError, load_file
from assistant.ingestion.metadata import extract_metadata
from assistant.ingestion.structure import parse_clauses
from assistant.ingestion.text import segment_spans
from assistant.models import Clause, DocumentMeta, ParsedDocument

# Order in which metadata is shown in the 文件信息 clause.
META_ORDER = ("文号", "发文单位", "级别", "状态", "分类", "支持方式", "支持产业", "发布日期", "成文日期", "实施日期", "附件", "说明", "来源")
METADATA_CLAUSE_ID = "文件信息"


def guess_title(body: str, fallback: str) -> str:
    """A document without metadata is titled by its first short segment, else by its file name."""
    spans = segment_spans(body)
    if spans:
        first = body[spans[0][0] : spans[0][1]]
        # news copied from portals often runs the headline into the first sentence: "标题 2月4日，…"
        candidates = [first, re.split(r"[ \u3000\xa0]+", first.strip(), maxsplit=1)[0]]
        for candidate in candidates:
            if 4 <= len(candidate) <= 60 and not candidate.endswith(("。", "：", ":", "；", "，", ",")):
                return candidate
    return fallback


def metadata_clause(meta: DocumentMeta) -> Clause | None:
    lines = [f"《{meta.title}》"]
    for key in META_ORDER:
        value = meta.fields.get(key)
        if value:
            lines.append(f"{key}：{value}")
    extra = [k for k in meta.fields if k not in META_ORDER and k != "title" and meta.fields[k]]
    lines += [f"{k}：{meta.fields[k]}" for k in extra]
    if len(lines) == 1:
        return None
    return Clause(doc=meta.doc, clause_id=METADATA_CLAUSE_ID, heading_path=[meta.title, "文件信息"], text="\n".join(lines), kind="metadata")


def parse_document(doc: str, raw_text: str, *, path: str = "", sha256: str = "", max_chars: int = 450, window_chars: int = 300) -> ParsedDocument:
    """Pure: the text of one file → its metadata, clauses and indicators."""
    fields, body = extract_metadata(raw_text)
    title = fields.pop("title", "") or guess_title(body, doc)
    meta = DocumentMeta(doc=doc, title=title, path=path, sha256=sha256, fields=fields)
    clauses = parse_clauses(doc, title, body, max_chars=max_chars, window_chars=window_chars)
    head = metadata_clause(meta)
    if head is not None:
        clauses.insert(0, head)
    indicators = [ind for c in clauses if c.kind == "target" and c.window == 0 for ind in extract_indicators(_whole(c, clauses, body))]
    return ParsedDocument(meta=meta, body=body, clauses=clauses, indicators=indicators)


def _whole(clause: Clause, clauses: list[Clause], body: str) -> Clause:
    """A windowed clause rejoined, so indicators never straddle a window edge."""
    if clause.windows == 1:
        return clause
    parts = [c for c in clauses if c.clause_id == clause.clause_id]
    return clause.model_copy(update={"text": body[parts[0].start : parts[-1].end]})


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_file(path: Path, *, max_chars: int = 450, window_chars: int = 300, check: Callable[[str], None] | None = None) -> ParsedDocument:
    """Load and parse one knowledge file; raises LoadError with a readable message (also when no
    clause comes out of it). `check` sees the text before it is parsed and may refuse it (LoadError)."""
    text = load_file(path)
    if check is not None:
        check(text)
    parsed = parse_document(path.stem, text, path=str(path), sha256=file_sha256(path.read_bytes()), max_chars=max_chars, window_chars=window_chars)
    if not parsed.clauses:
        raise LoadError("没有可收录的正文（no text found）")
    return parsed


def merge_windows(parts: list[Clause]) -> Clause:
    """The sentence windows of one clause rejoined into the whole clause (a space where the source
    had whitespace between them)."""
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda c: c.window)
    text = parts[0].text
    for prev, cur in zip(parts, parts[1:]):
        text += (" " if cur.start > prev.end else "") + cur.text
    return parts[0].model_copy(update={"text": text, "end": parts[-1].end, "window": 0, "windows": 1})


def whole_clauses(clauses: list[Clause]) -> list[Clause]:
    """Clauses in reading order with their windows merged."""
    groups: dict[tuple[str, str], list[Clause]] = {}
    for c in clauses:
        groups.setdefault((c.doc, c.clause_id), []).append(c)
    return [merge_windows(parts) for parts in groups.values()]
