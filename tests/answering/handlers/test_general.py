"""General questions: the clause that says the kind of fact asked for, or a plain refusal."""
from __future__ import annotations

import pytest

from tests.answering.handlers.conftest import cited


@pytest.mark.parametrize(
    ("question", "clause", "fact"),
    [
        ("租房补贴怎么申请？", "三.13", "微信小程序"),
        ("申请补贴要准备哪些材料？", "三.14", "劳动合同"),
        ("今年的补贴申请截止到哪天", "三.13", "11月30日"),
        ("租房补贴几月份发", "二.(二).5", "6月"),
        ("硕士研究生来澄川就业能拿多少就业补贴？", "二.(一).2", "3万元"),
        ("入住青年人才驿站要带什么证件？", "二.(二).7", "身份证"),
    ],
)
def test_the_clause_that_says_what_is_asked_leads(upload_assistant, question, clause, fact):
    a = upload_assistant.run(question)
    assert not a.refused and cited(a)[0] == clause and fact in a.answer


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("申请人才公寓需要提交哪些材料？", "材料"),
        ("进博士后工作站有学历要求吗", "条件"),
        ("科技镇长团团长是谁", "姓名"),
        ("市委人才办在什么地方办公？", "地址"),
        ("双创人才项目能拿到多少资助资金？", "金额"),
        ("上海的人才安居政策是怎样的", "上海"),
        ("杭州对高层次人才有什么扶持", "杭州"),
    ],
)
def test_facts_the_plan_does_not_give_are_refused_by_kind(plan_assistant, question, reason):
    a = plan_assistant.run(question)
    assert a.refused and reason in a.answer.splitlines()[0]
    assert a.citations  # the closest clauses are still shown


@pytest.mark.parametrize(
    "question",
    ["澄川青年人才买车有补贴吗", "澄川对专科生有多少就业补贴", "澄川青年人才落户需要什么条件", "澄川青年人才驿站的运营方联系方式是什么"],
)
def test_a_subject_the_policy_never_names_is_refused(upload_assistant, question):
    assert upload_assistant.run(question).refused


def test_a_place_named_with_a_home_area_is_where_people_come_from(plan_assistant):
    a = plan_assistant.run("在上海工作的工程师能不能来昆山兼职？")
    assert not a.refused and cited(a)[0] == "四.(五).18"
    assert not plan_assistant.run("和台湾的人才科创合作是哪个单位牵头？").refused


def test_a_contact_the_policy_gives_is_answered(upload_assistant):
    a = upload_assistant.run("澄川青年人才补贴的咨询电话是多少")
    assert not a.refused and "0512-12345678" in a.answer



def test_an_area_names_a_document_only_when_no_other_document_mentions_it(upload_assistant):
    areas, home = upload_assistant.context().areas, upload_assistant.context().home_areas
    assert areas.get("澄川") == "chengchuan-youth-talent-measures" and areas.get("昆山") == "kunshan-talent-plan-2022-2025"
    assert {"澄川", "昆山"} <= home
