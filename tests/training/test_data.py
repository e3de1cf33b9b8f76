"""Training pairs from real clauses: positives hold the answer (reprints too), negatives come from
retrieval's best-ranked windows, generated questions come from the knowledge base's structure."""
from __future__ import annotations

import random

from assistant.ingestion.pipeline import parse_file
from assistant.models import Clause
from assistant.retrieval.index import passage_text
from assistant.training.data import fold_of, locate, pairs_for, structure_questions, templates, unit_span
from tests.conftest import PLAN


def _clause(doc: str, cid: str, text: str) -> Clause:
    return Clause(doc=doc, clause_id=cid, heading_path=[f"{doc}标题", cid], text=text)


def test_locate_finds_the_answer_verbatim_or_after_folding():
    passage = "标题｜一\n对符合条件的企业给予不超过50万元补助，执行期限至2020年６月３０日。"
    assert passage[slice(*locate(passage, "不超过50万元补助"))] == "不超过50万元补助"
    a, b = locate(passage, "至2020年6月30日")  # full-width digits in the text, ASCII in the answer
    assert passage[a:b] == "至2020年６月３０日"
    assert locate(passage, "不存在的答案") is None


def test_pairs_label_every_window_holding_the_answer_and_rank_negatives_first():
    answer = "给予一次性补贴1000元"
    gold = _clause("a", "一", f"高校毕业生到中小企业就业的，{answer}。")
    reprint = _clause("b", "三", f"转载：高校毕业生到中小企业就业的，{answer}。")
    negatives = [_clause("c", str(i), f"第{i}条与补贴无关的内容。") for i in range(12)]
    titles = {"a": "通知A", "b": "通知B", "c": "通知C"}
    pairs = pairs_for("q1", "毕业生就业有什么补贴？", answer, negatives[:3] + [reprint] + negatives[3:], titles,
                      negatives=6, hard=3, rng=random.Random(0), extra=[gold])
    positives = [p for p in pairs if p.label]
    assert {p.passage for p in positives} == {passage_text(gold, "通知A"), passage_text(reprint, "通知B")}
    assert all(p.passage[slice(*p.span)] == answer for p in positives)
    assert [p.rank for p in positives] == [3, None]  # the reprint was retrieved 4th; the gold window was not retrieved
    ranks = [p.rank for p in pairs if not p.label]
    assert ranks[:3] == [0, 1, 2] and len(ranks) == 6 and all(r > 3 for r in ranks[3:])
    assert all(p.span is None for p in pairs if not p.label)


def test_a_question_whose_answer_no_window_holds_gives_no_pairs():
    assert pairs_for("q", "问题", "没有的答案", [_clause("a", "一", "文本")], {}, rng=random.Random(0)) == []


def test_generated_question_has_only_its_own_clause_as_positive():
    target = _clause("a", "1", "推进人才培养（牵头单位：市人社局；配合单位：市教育局）")
    same_clause_other_window = target.model_copy(update={"window": 1, "windows": 2})
    target = target.model_copy(update={"windows": 2})
    elsewhere = _clause("a", "2", "另一项措施（牵头单位：市人社局）")
    pairs = pairs_for("g", "推进人才培养由哪个部门牵头？", "市人社局", [elsewhere, same_clause_other_window], {"a": "计划"},
                      positives=[target], rng=random.Random(0))
    assert [(p.label, p.passage.endswith(c.text)) for p, c in zip(pairs, [target, elsewhere])] == [(1, True), (0, True)]
    assert len(pairs) == 2  # the clause's other window is neither positive nor negative


def test_unit_span_is_the_units_as_written():
    text = "大力引进高层次人才。〔牵头单位：市委人才办；配合单位：市人社局、科技局，各区镇〕"
    assert unit_span(text, ("牵头单位",)) == "市委人才办"
    assert unit_span(text, ("配合单位",)) == "市人社局、科技局，各区镇"
    assert unit_span("没有责任单位的条款。", ("牵头单位",)) is None


def test_structure_questions_from_the_plan_cover_every_kind_and_their_spans_are_in_the_clause():
    parsed = parse_file(PLAN)
    titles = {parsed.meta.doc: parsed.meta.title}
    questions = structure_questions(parsed.clauses, parsed.indicators, titles, random.Random(3), limit=40)
    kinds = templates()
    assert set(kinds) == {"heading", "lead", "coop", "target"}
    assert 30 <= len(questions) <= 40 and len({q for _, q, _, _ in questions}) == len(questions)
    for _, question, span, window in questions:
        assert span is None or span in window.text
    assert any(span == "市委人才办" for _, _, span, _ in questions)
    assert any(span and span.endswith("%") for _, _, span, _ in questions)  # a target value


def test_folds_are_stable_and_spread():
    ids = [f"question-{i}" for i in range(500)]
    folds = [fold_of(i, 5) for i in ids]
    assert folds == [fold_of(i, 5) for i in ids]
    assert all(70 <= folds.count(f) <= 130 for f in range(5))
