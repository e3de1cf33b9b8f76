"""Dialogue over several turns: what each question points at, replayed from the earlier questions."""
from __future__ import annotations

import pytest

from assistant.answering.service import Assistant


@pytest.fixture(scope="module")
def assistant(plan_index):
    return Assistant(plan_index)


def cited(answer):
    return [c.clause_id for c in answer.citations]


def test_follow_ups_borrow_the_subject_or_the_kind(assistant):
    a = assistant.run("那配合单位有哪些？", ["人才招引汇聚计划由谁牵头？"])
    assert a.intent == "coop" and cited(a)[0] == "四.(二).4" and "人才招引汇聚计划" in a.resolved_question
    b = assistant.run("独角兽培育企业呢？", ["到2025年瞪羚企业要达到多少家？"])
    assert b.intent == "target" and "50" in b.answer
    c = assistant.run("那工信局呢？", ["市科技局牵头哪些工作？"])
    assert c.intent == "reverse_lead" and "市工信局作为牵头单位的举措共2项" in c.answer
    d = assistant.run("海外人才有什么支持？", ["市科技局牵头哪些工作？"])
    assert d.intent == "general" and d.resolved_question == "海外人才有什么支持？"  # a full question stands alone


def test_it_and_this_one_stay_on_the_measure_over_three_turns(assistant):
    history = ["提升人才安居质效有哪些措施", "牵头的是谁"]
    a = assistant.run("这一项的配合单位呢", history)
    assert a.intent == "coop" and cited(a)[0] == "四.(六).22" and "市住建局" in a.answer
    b = assistant.run("那它的配合单位里有市场监管局吗？", ["关键技术突破行动是什么", "谁牵头"])
    assert cited(b)[0] == "四.(四).16" and b.answer.startswith("是，市市场监管局")


def test_next_and_previous_item(assistant):
    a = assistant.run("下一项是什么？", ["集聚科创金融平台讲了什么", "牵头单位是谁"])
    assert cited(a)[0] == "四.(四).13" and "强链" in a.answer  # numbered across the groups
    b = assistant.run("那上一项呢？由谁牵头", ["开展关键技术“突破”行动谁牵头？"])
    assert cited(b)[0] == "四.(四).15" and "市工信局" in b.answer


def test_among_the_items_just_listed(assistant):
    history = ["六大平台是哪几个？"]
    assert cited(assistant.run("其中科技服务平台由谁牵头？", history))[0] == "四.(三).11"
    assert cited(assistant.run("其中第二个平台是做什么的？", history))[0] == "四.(三).8"
    a = assistant.run("市人社局配合了其中哪几项？", ["三大计划是哪三个？"])
    assert set(cited(a)) == {"四.(二).4", "四.(二).5", "四.(二).6"} and "共3项" in a.answer
    b = assistant.run("第三条具体讲的是什么？", ["基本原则有几条？"])
    assert cited(b)[0] == "三.3" and "产才融合" in b.answer


@pytest.mark.parametrize("question", ["那配合单位呢？", "这一项由谁牵头？", "下一项呢", "它的牵头单位是哪个？", "其中第三条是什么"])
def test_a_pointer_with_nothing_before_it_is_asked_back(assistant, question):
    a = assistant.run(question, [])
    assert a.clarify and a.refused and a.intent == "clarify" and not a.citations
    assert a.public()["clarify"] is True and "哪一项" in a.answer


def test_the_state_of_a_prefix_is_reused(assistant):
    ctx = assistant.context()
    first = assistant._state(ctx, ["六大平台是哪几个？"])
    again = assistant._state(ctx, ["六大平台是哪几个？"])
    assert first is again and len(first.items) == 6
