from __future__ import annotations

from tests.answering.handlers.conftest import cited


def test_counts_and_a_unit_that_leads_nothing(plan_assistant):
    a = plan_assistant.run("市科技局一共配合了多少项举措？")
    assert "市科技局作为配合单位的举措共10项" in a.answer and len(a.citations) == 10
    b = plan_assistant.run("市人社局牵头了哪些举措？")
    assert b.answer.startswith("市人社局没有作为牵头单位的举措。") and "市人社局作为配合单位的举措共11项" in b.answer


def test_measures_two_units_share(plan_assistant):
    a = plan_assistant.run("市科技局和工信局共同牵头的是哪些举措？")
    assert "共同牵头的举措共2项" in a.answer and cited(a) == ["四.(四).13", "四.(四).15"]
    b = plan_assistant.run("市教育局和卫健委都配合的举措有哪些？")
    assert "共同配合的举措共4项" in b.answer


def test_the_unit_that_leads_the_most(plan_assistant):
    a = plan_assistant.run("哪个部门牵头的举措最多？")
    assert a.answer.startswith("牵头举措最多的是市委人才办，共12项") and "其后依次是：市科技局（10项）" in a.answer


def test_a_named_document_scopes_the_table(upload_assistant):
    a = upload_assistant.run("澄川青年人才措施里市财政局配合了几项？")
    assert "共6项" in a.answer and {c.doc for c in a.citations} == {"chengchuan-youth-talent-measures"}


def test_a_fact_about_a_unit_is_not_its_duties(plan_assistant):
    a = plan_assistant.run("市委人才办的负责人叫什么名字？")
    assert a.refused and "姓名" in a.answer
