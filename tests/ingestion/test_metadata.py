from __future__ import annotations

from assistant.ingestion import parse_document, parse_file
from assistant.ingestion.metadata import extract_metadata, split_front_matter
from tests.conftest import PLAN, SEED, need


def test_portal_page_parses_like_the_clean_copy():
    raw = need(SEED).read_text(encoding="utf-8")
    fields, body = extract_metadata(raw)
    assert fields["文号"] == "昆办发〔2022〕67号"
    assert fields["级别"] == "昆山市级" and fields["状态"] == "有效"  # both on one portal line
    assert fields["title"] == "昆山人才科创发展行动计划(2022~2025年)"
    for furniture in ("附件下载", "图解政策", "延伸阅读", "根据标签", "相关活动", "政策详情", "\u00a0"):
        assert furniture not in body
    from_portal = parse_document("plan", raw)
    from_copy = parse_file(PLAN)
    strip = lambda clauses: [(c.clause_id, c.text, c.lead_units, c.coop_units) for c in clauses if c.kind != "metadata"]
    assert strip(from_portal.clauses) == strip(from_copy.clauses)


def test_clean_copy_has_no_portal_furniture():
    text = PLAN.read_text(encoding="utf-8")
    fields, body = split_front_matter(text)
    assert {"title", "文号", "发文单位", "级别", "状态", "分类", "支持方式", "附件"} <= set(fields)
    for furniture in ("附件下载", "图解政策", "延伸阅读", "根据标签", "相关活动", "\u00a0"):
        assert furniture not in text


def test_malformed_front_matter_is_kept_as_text():
    fields, rest = split_front_matter("---\n: [unclosed\n---\n正文。")
    assert fields == {}
    assert "正文" in rest
