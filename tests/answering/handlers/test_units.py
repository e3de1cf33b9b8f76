from __future__ import annotations

from tests.answering.handlers.conftest import cited


def test_yes_or_no_on_one_measure_says_the_role(plan_assistant):
    a = plan_assistant.run("卫健委是人才安居质效的配合单位吗？")
    assert a.answer.startswith("是，市卫健委是这项举措的配合单位。") and cited(a)[0] == "四.(六).22"
    b = plan_assistant.run("市财政局是不是科创金融平台的牵头单位")
    assert b.answer.startswith("否，市财政局是这项举措的配合单位，不是牵头单位。") and cited(b)[0] == "四.(三).12"


def test_units_of_the_measure_in_focus(plan_assistant):
    a = plan_assistant.run("配合单位里有卫健委吗？", ["人才培养群英计划是讲什么的？", "谁牵头？"])
    assert cited(a)[0] == "四.(二).5" and a.answer.startswith("是，市卫健委")


def test_a_follow_up_asking_another_kind_of_fact_looks_beyond_the_clause(upload_assistant):
    a = upload_assistant.run("怎么申请？", ["澄川租房补贴标准是多少"])
    assert not a.refused and cited(a)[0] == "三.13"  # the procedure is said once for all the subsidies
    b = upload_assistant.run("要交哪些材料", ["澄川的就业补贴怎么申请？"])
    assert not b.refused and cited(b)[0] == "三.14"
