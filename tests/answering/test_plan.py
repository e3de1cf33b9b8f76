"""Reading a question into a Plan, on the real plan's knowledge model."""
from __future__ import annotations

import pytest

from assistant.answering.plan import chinese_number
from assistant.answering.service import Assistant


@pytest.fixture(scope="module")
def read(plan_index):
    assistant = Assistant(plan_index)
    ctx = assistant.context()
    return lambda q: assistant._read(ctx, q, q)


def test_units_are_linked_to_canonical_names_by_their_short_forms(read):
    p = read("市科技局和工信局共同牵头的是哪些举措？")
    assert p.units == ["市科技局", "市工信局"] and p.role == "lead" and p.has("asks.shared", "asks.measures")
    assert read("市委组织部牵头了什么").units == ["市委人才办"]  # an alias, resolved by the bracket rule


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("除了财政局牵头，还有哪些单位配合？", "coop"),  # the role word nearest the end
        ("配合科技局的是哪些单位？", "coop"),
        ("这项工作谁牵头？", "lead"),
        ("这项措施的牵头单位和配合单位分别是谁？", "units"),
        ("集群创新的四大行动分别是什么？", None),  # 分别 alone asks for no role
    ],
)
def test_the_role_asked_about(read, question, role):
    assert read(question).role == role


def test_sections_are_linked_by_the_words_of_their_heading(read):
    p = read("“改革创新”三大导向指哪三个")
    assert p.section.endswith("::四.(一)") and p.count_asked == 3 and p.has("asks.list")
    assert read("主要举措分为哪几大块？").section.endswith("::四")
    assert read("总体目标里说要建成哪四个“地”？").section.endswith("::二")
    assert read("那到2025年呢？要达到多少？").section is None  # a year shared with the title links nothing


def test_kinds_of_fact_asked_for_and_the_subject(read):
    p = read("申请购房补贴还需要额外交什么")
    assert p.focus == ["materials"] and "购房" in p.subject and "外交" not in p.subject  # 额外 | 交什么, not 额 | 外交
    assert read("高校毕业生来昆山就业有多少补贴").focus == ["money", "subsidy"]
    assert read("进博士后工作站有学历要求吗").focus == ["conditions"]
    assert read("科技镇长团团长是谁").focus == ["person"]
    assert read("人才服务平台叫什么名字").focus == []  # a thing's name, not a person's


def test_questions_naming_nothing_of_their_own_are_elliptical(read):
    for question in ("那配合单位有哪些？", "那到2025年呢？要达到多少？", "怎么申请？", "要交哪些材料"):
        assert read(question).elliptical, question
    for question in ("独角兽培育企业的目标是多少？", "海外人才来昆创业有什么支持？", "基本原则有几条？"):
        assert not read(question).elliptical, question
    p = read("下一项是什么？")
    assert p.step == 1 and p.refers_back
    assert read("市人社局配合了其中哪几项？").has("ref.partitive")


def test_metadata_fields_and_document_words(read):
    p = read("昆山人才科创发展行动计划的文号是多少？")
    assert p.meta_fields == ["文号"] and p.beyond_titles == ""  # the title names the document, nothing else
    assert read("“产城融合”原则要让人才在昆山达到什么状态？").beyond_titles  # 状态 here is not the document's


def test_chinese_numbers():
    assert [chinese_number(x) for x in ("三", "十", "十二", "二十", "二十一", "7", "两")] == [3, 10, 12, 20, 21, 7, 2]
