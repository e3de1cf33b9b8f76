from __future__ import annotations

from tests.answering.handlers.conftest import cited


def test_fields_asked_in_other_words(plan_assistant):
    assert "昆山市级" in plan_assistant.run("这是哪一级政府出台的政策？").answer
    assert "昆办发〔2022〕67号" in plan_assistant.run("文件编号是啥").answer
    assert "中共昆山市委办公室" in plan_assistant.run("这个政策是谁出的").answer
    year = plan_assistant.run("这份计划是哪一年发布的？")  # the text carries no date: the year of its 文号
    assert "2022" in year.answer and not year.refused


def test_the_attachment_is_named_and_its_absence_said(plan_assistant):
    a = plan_assistant.run("附件叫什么名字")
    assert not a.refused and "指标体系" in a.answer and "未随正文公开" in a.answer
    b = plan_assistant.run("附件指标体系里每一年的分年度指标是多少？")
    assert b.refused


def test_what_a_policy_says_of_itself(upload_assistant):
    a = upload_assistant.run("澄川这份措施是哪个单位印发的？")
    assert "澄川市人民政府办公室" in a.answer and cited(a)[0] == "五.17"  # from its signature
    assert "2023年4月1日" in upload_assistant.run("澄川的青年人才政策从什么时候开始施行？").answer
    assert "市人社局" in upload_assistant.run("这份措施由哪个部门负责解释").answer
