"""Document metadata: YAML front matter, or the header a policy portal prints above the text.

Also removes the portal's page furniture (download links, related-content widgets).
"""
from __future__ import annotations

import re

import yaml

from assistant.ingestion.text import normalize_text

# Labels a policy portal prints in its header block, in the order they usually appear.
PORTAL_KEYS = ("级别", "状态", "分类", "支持方式", "支持产业", "发文单位", "发布日期", "成文日期", "实施日期", "发布机构")
_KEY_RE = re.compile(rf"({'|'.join(PORTAL_KEYS)})\s*[:：]")
DOC_NUMBER_RE = re.compile(r"^[\u4e00-\u9fff]{1,12}[〔\[［【(（]\d{4}[〕\]］】)）]\s*\d+\s*号$")
# Whole lines that are the portal's navigation, never policy text.
FURNITURE = (
    "政策详情",
    "附件下载",
    "图解政策",
    "延伸阅读",
    "相关活动",
    "相关政策",
    "相关阅读",
    "相关文件",
    "政策解读",
    "打印本页",
    "关闭窗口",
    "分享到",
)
_FURNITURE_RE = re.compile(rf"^(?:{'|'.join(FURNITURE)})[:：]?$|^根据标签.{{0,20}}$|^\{{.*\}}$")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """`---` YAML front matter → (fields as strings, the rest). Malformed YAML is left as text."""
    stripped = text.lstrip("\ufeff")
    m = re.match(r"^---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", stripped, re.S)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    fields = {str(k).strip(): _as_text(v) for k, v in data.items() if v is not None}
    return fields, stripped[m.end() :]


def _as_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value).strip()


def is_furniture(line: str) -> bool:
    return bool(_FURNITURE_RE.match(line.strip()))


def strip_furniture(lines: list[str]) -> list[str]:
    """Drop navigation lines at the top and at the bottom of the page; keep the middle untouched."""
    start, end = 0, len(lines)
    while start < end and is_furniture(lines[start]):
        start += 1
    while end > start and is_furniture(lines[end - 1]):
        end -= 1
    return lines[start:end]


def parse_portal_header(lines: list[str]) -> tuple[dict[str, str], int]:
    """Read `级别:…状态:…` style lines, a 文号 line and a title line from the top of the page.

    Returns the fields found and the index of the first line of the body.
    """
    fields: dict[str, str] = {}
    i = 0
    limit = min(len(lines), 14)
    seen_key = False
    while i < limit:
        line = lines[i]
        keys = list(_KEY_RE.finditer(line))
        if keys and keys[0].start() == 0:
            for k, nxt in zip(keys, keys[1:] + [None]):
                value = line[k.end() : nxt.start() if nxt else len(line)].strip(" ,，;；")
                fields[k.group(1)] = value
            seen_key = True
        elif DOC_NUMBER_RE.match(line) and "文号" not in fields:
            fields["文号"] = line
        elif not seen_key and "title" not in fields and len(line) <= 80 and not line.endswith(("。", "：", ":")):
            fields["title"] = re.sub(r"\s+(?=[年)）])|(?<=[(（\d])\s+", "", line)
        else:
            break
        i += 1
    if not seen_key and "文号" not in fields:
        return {}, 0  # not a portal header: the first line is ordinary text
    return fields, i


def extract_metadata(raw_text: str) -> tuple[dict[str, str], str]:
    """Raw file text → (metadata fields, normalised body without header or furniture)."""
    fields, rest = split_front_matter(raw_text)
    lines = strip_furniture(normalize_text(rest).split("\n"))
    if not fields:
        header, first = parse_portal_header(lines)
        fields.update(header)
        lines = lines[first:]
    return fields, "\n".join(lines)
