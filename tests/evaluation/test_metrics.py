from __future__ import annotations

from assistant.evaluation.metrics import char_f1, citation_precision, cited_sentences, rouge_l, summarize, supports
from assistant.evaluation.questions import EvalQuestion, load_questions
from assistant.models import Answer, Citation
from tests.conftest import NCP, ROOT, need

CLAUSE = "5. 推进人才培养群英计划。启动实施博士后集聚“双百”行动,加大博士后科研工作站支持力度和绩效评估。"


def answer(text: str, refused: bool = False) -> Answer:
    return Answer(question="q", answer=text, refused=refused, citations=[Citation(n=1, doc="plan", clause_id="四.(二).5", title="t", text=CLAUSE)])


def test_supports_and_citation_precision():
    assert supports("启动实施博士后集聚“双百”行动", CLAUSE)
    assert not supports("博士后每人补贴 30 万元", CLAUSE)
    assert citation_precision(answer("启动实施博士后集聚“双百”行动。[1]")) == 1.0
    assert citation_precision(answer("博士后每人补贴 30 万元。[1]\n加大博士后科研工作站支持力度。[2]")) == 0.0  # [2] cites nothing
    assert cited_sentences(answer("- 甲[1]\n乙[1][2]")) == [("甲", [1]), ("乙", [1, 2])]


def test_text_overlap_scores():
    assert char_f1("市委人才办[1]", "市委人才办") == 1.0
    assert 0 < rouge_l("由市委人才办牵头", "市委人才办") < 1
    assert rouge_l("", "x") == 0.0


def test_summary_counts_refusals_and_ranks():
    gold = EvalQuestion(id="1", question="q", gold_clauses=["四.(二).5"], facts=["双百"])
    unanswerable = EvalQuestion(id="2", question="q", answerable=False)
    metrics = summarize([(gold, answer("启动实施博士后集聚“双百”行动。[1]")), (unanswerable, answer("不知道", refused=True))])
    assert metrics["hit@1"] == 1.0 and metrics["facts"] == 1.0 and metrics["refusal_accuracy"] == 1.0 and metrics["false_refusal"] == 0.0


def test_both_question_formats_load():
    dev = load_questions(ROOT / "eval" / "questions.jsonl")
    assert len(dev) >= 150 and sum(not q.answerable for q in dev) >= 20
    assert all(q.gold_clauses for q in dev if q.answerable)
    spans = load_questions(need(NCP) / "questions.jsonl")
    assert len(spans) == 637 and all(q.gold_doc and q.gold_answer for q in spans)


def test_a_gold_clause_may_name_its_document():
    """In a knowledge base of several files the same clause id exists in each: `doc::clause_id` picks one."""
    from assistant.evaluation.metrics import rank_of_gold

    other = Citation(n=1, doc="upload", clause_id="四.(二).5", title="t", text=CLAUSE)
    plan = Citation(n=2, doc="plan", clause_id="四.(二).5", title="t", text=CLAUSE)
    a = Answer(question="q", answer="x[1]", citations=[other, plan])
    assert rank_of_gold(EvalQuestion(id="1", question="q", gold_clauses=["plan::四.(二).5"]), a) == 2
    assert rank_of_gold(EvalQuestion(id="2", question="q", gold_clauses=["四.(二).5"]), a) == 1
    assert rank_of_gold(EvalQuestion(id="3", question="q", gold_clauses=["plan::一.1"]), a) is None
