from __future__ import annotations

from tests.answering.handlers.conftest import cited


def test_the_parts_of_a_section_named_by_its_heading(plan_assistant):
    a = plan_assistant.run("“改革创新”三大导向指哪三个")
    assert a.intent == "listing" and "共3项" in a.answer
    assert all(x in a.answer for x in ("政治导向", "精准导向", "绩效导向"))
    assert cited(a) == ["四.(一).1", "四.(一).2", "四.(一).3"] and a.listed[0].endswith("::四.(一).1")


def test_a_section_of_groups_is_counted_by_group(plan_assistant):
    a = plan_assistant.run("主要举措分为哪几大块？")
    assert "分6个部分，共22项" in a.answer and "集聚“全链创新”六大平台" in a.answer


def test_a_number_that_does_not_fit_the_parts_is_not_answered_with_them(plan_assistant):
    a = plan_assistant.run("总体目标里说要建成哪四个“地”？")  # its text says four, it has five target groups
    assert a.intent == "general" and "成果转化地" in a.answer


def test_numbered_items(plan_assistant, upload_assistant):
    a = plan_assistant.run("主要举措的第二十条是什么内容")
    assert cited(a)[0] == "四.(六).20" and "人才服务质效" in a.answer
    assert cited(plan_assistant.run("第16项举措讲的是什么？"))[0] == "四.(四).16"
    b = upload_assistant.run("澄川青年人才措施一共有多少条？")
    assert "共17条，分5个部分" in b.answer and b.citations[0].doc == "chengchuan-youth-talent-measures"
