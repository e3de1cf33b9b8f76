"""`assistant ask --batch`: JSONL questions in, exactly one JSON line out per line in, in order.

Evaluation pipelines are built on this command, so no line may end the batch or shift the others:
undecodable bytes are replaced (and the line named), each line is answered inside its own error
boundary, and nothing a line holds (lone surrogates, control characters, line separators) can break
the JSON writer or split an output line in two.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import BaseModel, Field

SURROGATES = re.compile("[\ud800-\udfff]")  # left lone by json.loads ("\ud800"): not encodable as UTF-8
# Line breaks to str.splitlines() that JSON leaves raw (it escapes only U+0000–U+001F).
RAW_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class BatchLine(BaseModel):
    """One input line, parsed: a question to ask, or the reason it cannot be asked."""

    line: int = Field(description="1-based line number in the file")
    question: str | None = None
    history: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="why the line is not asked (it still gets its output line)")
    warnings: list[str] = Field(default_factory=list, description="what was repaired before asking")


def repaired(text: str) -> str:
    return SURROGATES.sub("\ufffd", text)


def parse_line(number: int, raw: bytes) -> BatchLine:
    """Pure: the bytes of line `number` (without its newline) → a BatchLine."""
    warnings = []
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace")
        warnings.append(f"第 {number} 行含无法按 UTF-8 解码的字节，已替换为 �（invalid UTF-8 at byte {exc.start}）")
    if not text.strip():
        return BatchLine(line=number, error=f"第 {number} 行是空行（empty line）", warnings=warnings)
    try:
        item = json.loads(text)
    except ValueError as exc:
        return BatchLine(line=number, error=f"第 {number} 行不是合法的 JSON（{exc}）", warnings=warnings)
    question = item.get("question") if isinstance(item, dict) else None
    if not isinstance(question, str):
        return BatchLine(line=number, error=f"第 {number} 行应为含字符串字段 question 的 JSON 对象（expected an object with a string 'question'）", warnings=warnings)
    history = item.get("history") or []
    if not isinstance(history, list):
        return BatchLine(line=number, question=repaired(question), error=f"第 {number} 行的 history 应为字符串列表（'history' must be a list of strings）", warnings=warnings)
    history = [h for h in history if isinstance(h, str)]
    if SURROGATES.search(question) or any(SURROGATES.search(h) for h in history):
        warnings.append(f"第 {number} 行含孤立的代理字符，已替换为 �（lone surrogate）")
    return BatchLine(line=number, question=repaired(question), history=[repaired(h) for h in history], warnings=warnings)


def read_lines(stream: Iterable[bytes]) -> Iterator[BatchLine]:
    """A binary stream split on b"\\n" only (a CR or U+2028 inside a line does not start another)."""
    for number, raw in enumerate(stream, start=1):
        yield parse_line(number, raw.rstrip(b"\n").removesuffix(b"\r"))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return repaired(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def json_line(obj: Any, ascii_only: bool = False) -> str:
    """One line of JSON whatever the strings hold: encodable, and one line to any line splitter."""
    return json.dumps(_clean(obj), ensure_ascii=ascii_only).translate(RAW_BREAKS)


def error_row(item: BatchLine, message: str) -> dict:
    return {"question": item.question, "error": message, "line": item.line}


def answer_lines(
    items: Iterable[BatchLine], answer: Callable[[str, list[str]], dict], warn: Callable[[str], None], ascii_only: bool = False
) -> Iterator[str]:
    """One output line per item: the answer object, or {"question", "error", "line"}."""
    for item in items:
        for warning in item.warnings:
            warn(warning)
        try:
            if item.error is not None:
                row = error_row(item, item.error)
            else:
                row = answer(item.question, item.history)
            yield json_line(row, ascii_only)
        except Exception as exc:  # noqa: BLE001 - one line's failure is that line's output, never the batch's end
            message = f"第 {item.line} 行回答时出错（{type(exc).__name__}: {exc}）"
            warn(message)
            yield json_line(error_row(item, message), ascii_only)
