from __future__ import annotations

from assistant.answering.composer import Draft, pick_sentences, sentence_score
from assistant.models import Clause

WEIGHTS = {"技能人才": 3.0, "培养": 2.0}


def test_sentence_score_counts_whole_words_and_long_words_in_part():
    assert sentence_score("加强技能人才和卓越工程师培养。", WEIGHTS) == 1.0
    partial = sentence_score("加大高技能领军人才培养力度。", WEIGHTS)  # 技能 and 人才 of 技能人才's three bigrams
    assert partial == (3.0 * 2 / 3 + 2.0) / 5.0
    assert sentence_score("完善人才租赁住房产品供给结构。", {"培养": 2.0, "住房": 1.0}) == 1.0 / 3.0
    assert sentence_score("无关的句子。", {"能人": 1.0}) == 0.0  # a two-character word counts only whole
    assert sentence_score("任何句子", {}) == 0.0


def test_pick_sentences_best_first_and_cited_once_per_clause():
    clause = Clause(
        doc="d", clause_id="1", title="1. 技能", heading_path=["1. 技能"],
        text="加强技能人才和卓越工程师培养。加大高技能领军人才培养力度。完善住房供给。",
    )
    chosen = pick_sentences([(clause, 1.0)], WEIGHTS, limit=5)
    assert [s for _, _, s, _ in chosen] == ["加强技能人才和卓越工程师培养。", "加大高技能领军人才培养力度。"]
    draft = Draft()
    assert draft.cite(clause, 1.0, quote=chosen[0][2]) == draft.cite(clause, 1.0, quote=chosen[1][2]) == 1
    assert draft.citations[0].quotes == [chosen[0][2], chosen[1][2]]
