from __future__ import annotations

from assistant.ingestion import parse_file
from tests.conftest import PLAN


def test_every_numeric_target_of_the_plan():
    indicators = parse_file(PLAN).indicators
    rows = {(i.indicator, i.value, i.unit) for i in indicators}
    assert len(indicators) >= 26
    for row in [
        ("有效高新技术企业", "3500", "家"),
        ("净增高新技术企业", "1300", "家"),
        ("国家重大人才工程专家", "200", "名"),
        ("新增高技能人才", "4", "万人"),
        ("高层次人才", "6.2", "万人"),
        ("全社会研发支出占地区生产总值比重", "4.5", "%"),
        ("新增主导或参与国际、国家、行业标准制(修)订数", "120", "项"),
        ("省级及以上工程技术研究中心、企业技术中心(各)", "60", "家"),
        ("“专精特新”企业", "550", "家"),
        ("科技服务业收入", "290", "亿元"),
        ("新增人才公寓", "1", "万套"),
    ]:
        assert row in rows, row
    groups = {i.group for i in indicators}
    assert len(groups) == 5
    assert all(i.clause_id.startswith("二.—") for i in indicators)
    first = next(i for i in indicators if i.value == "3500")
    assert first.group == "——科创企业壮大新动能" and first.clause_id == "二.—3"
