"""Numeric targets (e.g. 有效高新技术企业达 3500 家) from a plan's target clauses (pure functions)."""
from __future__ import annotations

import re

from assistant.models import Clause, Indicator

UNITS = ("万平方米", "平方米", "万人", "万套", "亿元", "万元", "个百分点", "家", "名", "个", "项", "件", "人", "套", "所", "座", "%", "％")
_VALUE = re.compile(rf"(\d+(?:\.\d+)?)\s*({'|'.join(UNITS)})")
_HARD_BREAK = re.compile(r"[，,；;。：:！!]")
_LEADING_NOISE = re.compile(r"^(?:其中|全市|全县|全区|到\s*\d{4}\s*年|每年)+")
_TRAILING_NOISE = re.compile(r"(?:总量达|达到|达|实现|为|突破)$")


def extract_indicators(clause: Clause) -> list[Indicator]:
    """Indicators of a target clause. A quantity ends an indicator; the next one starts after a
    comma-like break, or after the 、 that follows a quantity (so 国际、国家、行业标准 stays whole)."""
    text = clause.text
    group = clause.heading_path[-1] if clause.heading_path else ""
    body_start = text.find("。") + 1 if text.startswith("——") else 0
    out: list[Indicator] = []
    cursor = body_start
    previous_name = ""
    for m in _VALUE.finditer(text, body_start):
        span = text[cursor : m.start()]
        breaks = list(_HARD_BREAK.finditer(span))
        if breaks:
            span = span[breaks[-1].end() :]
        span = span.lstrip("、 ")
        if re.search(r"\d{4}\s*$", span) or not re.search(r"[\u4e00-\u9fff]", span):
            cursor = m.end()
            continue
        raw = _LEADING_NOISE.sub("", span.strip())
        name = _TRAILING_NOISE.sub("", raw).strip()
        if name.endswith("各"):  # 工程技术研究中心、企业技术中心各 60 家: each of them
            name = name[:-1] + "(各)"
        if not name:
            cursor = m.end()
            continue
        # 新增硕博士 2000 名、高技能人才 4 万人: the verb of the first item governs the list
        after_list = text[cursor : cursor + 1] == "、"
        for verb in ("新增", "净增"):
            # …企业达 550 家 is a total, not an increase
            if after_list and previous_name.startswith(verb) and not raw.endswith("达") and not name.startswith(("新增", "净增", "有效")):
                name = verb + name
        sentence_start = max(text.rfind("。", 0, m.start()), text.rfind("，", 0, m.start()), text.rfind(",", 0, m.start())) + 1
        sentence_end = min([i for i in (text.find("。", m.end()), text.find("，", m.end()), text.find(",", m.end())) if i >= 0] or [len(text)])
        out.append(
            Indicator(
                doc=clause.doc,
                clause_id=clause.clause_id,
                group=group,
                indicator=name,
                value=m.group(1),
                unit=m.group(2).replace("％", "%"),
                sentence=text[sentence_start:sentence_end].strip(),
            )
        )
        previous_name = name
        cursor = m.end()
    return out
