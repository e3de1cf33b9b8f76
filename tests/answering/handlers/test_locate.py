from __future__ import annotations

from tests.answering.handlers.conftest import cited


def test_where_a_term_is_mentioned(plan_assistant):
    a = plan_assistant.run("“星期天工程师”在哪里提到的？")
    assert a.intent == "locate" and not a.refused and cited(a)[0] == "四.(五).18"
    assert "深化沪昆人才科创合作（四.(五).18，属于" in a.answer


def test_unquoted_terms_are_found_as_the_documents_write_them(plan_assistant):
    assert cited(plan_assistant.run("企业创新积分制是哪项举措提出的？"))[0] == "四.(四).14"
    assert cited(plan_assistant.run("人才租赁住房的轮候库是在哪项举措里"))[0] == "四.(六).22"


def test_a_term_no_clause_holds_is_a_general_question(plan_assistant):
    a = plan_assistant.run("“元宇宙”在哪里提到的？")
    assert a.intent != "locate"
