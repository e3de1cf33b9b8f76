"""The knowledge model's operations, on the real plan and on a second (made-up) policy."""
from __future__ import annotations

import pytest

from assistant.answering.knowledge import derived_fields, knowledge_model
from assistant.answering.matching import longest_common_run
from assistant.models import Clause
from assistant.retrieval.index import KnowledgeIndex

P = "kunshan-talent-plan-2022-2025::"
U = "chengchuan-youth-talent-measures::"


@pytest.fixture(scope="module")
def km(upload_index):
    return knowledge_model(KnowledgeIndex.open(upload_index))


def test_the_tree(km):
    assert [n.key for n in km.children(P + "四.(三)")] == [P + f"四.(三).{i}" for i in range(7, 13)]
    assert len(km.leaves(P + "四")) == 22  # six groups of measures
    assert [n.key for n in km.by_number(20, within=P + "四")] == [P + "四.(六).20"]
    assert km.step(P + "四.(三).12", 1).key == P + "四.(四).13" and km.step(P + "四.(四).16", -1).key == P + "四.(四).15"
    assert km.step(U + "三.15", 1) is None or km.step(U + "三.15", 1).key == U + "四.16"


def test_sections_link_by_their_heading(km):
    (node, run), *_ = km.link_sections("六大平台是哪几个")
    assert node.key == P + "四.(三)" and run == 4
    assert km.link_sections("安居保障有哪几条")[0][0].key == U + "二.(二)"


def test_unit_role_table(km):
    assert len(km.measures("市科技局", "coop")) == 10 + 1  # the plan's ten and the upload's one
    assert [n.name for n in km.shared(["市科技局", "市工信局"], "lead")] == ["开展新兴产业“强链”行动", "开展头部企业“登峰”行动"]
    assert km.role_of("市卫健委", P + "四.(六).22") == "coop" and km.role_of("市财政局", P + "四.(三).12") == "coop"
    assert km.ranking("lead")[0][0] == "市委人才办"
    assert {n.key for n in km.joint_leads()} >= {P + "四.(三).11", P + "四.(三).12", U + "二.(三).9"}
    assert km.find_units("市科技局和工信局共同牵头") == ["市科技局", "市工信局"]


def test_what_a_document_says_of_itself(km):
    facts = km.docs["chengchuan-youth-talent-measures"].fields
    assert facts["发文单位"] == "澄川市人民政府办公室" and facts["成文日期"] == "2023年3月15日"
    assert facts["施行日期"] == "2023年4月1日" and facts["有效期至"] == "2025年12月31日" and facts["解释单位"] == "市人社局"
    assert facts["年份"] == "2023"
    plan = km.docs["kunshan-talent-plan-2022-2025"].fields
    assert plan["年份"] == "2022" and plan["期限"] == "2022~2025年"  # from the 文号 and the title: the text carries no date


def test_derived_fields_are_pure():
    last = Clause(doc="d", clause_id="9", text="9. 本办法自2024年1月1日起施行。\n某市人民政府\n2023年12月1日")
    fields, sources = derived_fields("某市办法", {"文号": "某政发〔2023〕1号"}, last, last.text)
    assert fields["施行日期"] == "2024年1月1日" and fields["发文单位"] == "某市人民政府" and sources["发文单位"] == "d::9"
    assert derived_fields("某市办法", {"发文单位": "甲"}, last, last.text)[0].get("发文单位") is None  # the header wins


def test_phrases_the_documents_contain(km):
    assert km.phrases("企业创新积分制是哪项") == ["企业创新积分制"]
    assert km.phrases("人才租赁住房轮候库") == ["人才租赁住房", "轮候库"]
    assert longest_common_run("六大平台是哪几个", "集聚全链创新六大平台") == 4


def test_a_question_names_a_document_by_a_run_of_its_title(km):
    plan_doc, other = "kunshan-talent-plan-2022-2025", "chengchuan-youth-talent-measures"
    assert km.named_docs("人才科创发展行动计划的实施期限") == [plan_doc]
    assert km.named_docs("青年人才集聚措施里的租房补贴") == [other]
    assert km.named_docs("六大平台是哪几个") == []  # names a section, not a document
