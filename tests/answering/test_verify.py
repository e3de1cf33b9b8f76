from __future__ import annotations

import random

import pytest

from assistant.answering.verify import (
    UNVERIFIED,
    IncrementalVerifier,
    Sentence,
    check_sentence,
    is_refusal,
    split_sentences,
    support,
    supporting_sentence,
    unverified_notice,
    verify,
)

CLAUSES = {
    1: "5. 推进人才培养群英计划。启动实施博士后集聚“双百”行动,加大博士后科研工作站支持力度和绩效评估。(牵头单位:市委人才办;配合单位:市教育局、科技局)",
    2: "——科创企业壮大新动能。净增高新技术企业 1300 家、有效高新技术企业达 3500 家,瞪羚企业达 200 家。",
    3: "——人才质效取得新突破。全社会研发支出占地区生产总值比重达 4.5%。",
}
REFUSAL = "已收录的政策文件中没有找到能回答这个问题的内容。"


def test_split_keeps_markers_before_or_after_the_end_mark():
    parts = split_sentences("博士后集聚“双百”行动由市委人才办牵头[1]。有效高新技术企业达3500家。[2]\n- 瞪羚企业达200家【2】")
    assert [p.text for p in parts] == ["博士后集聚“双百”行动由市委人才办牵头[1]。", "有效高新技术企业达3500家。[2]", "- 瞪羚企业达200家[2]"]
    assert [p.markers for p in parts] == [(1,), (2,), (2,)]
    assert parts[2].core == "瞪羚企业达200家"
    assert Sentence("比重达4.5%[3]。").markers == (3,) and "4.5" in Sentence("比重达4.5%[3]。").core  # no split at the decimal point
    assert Sentence("两者[1, 2]。").markers == (1, 2) and Sentence("两者[1、3]").markers == (1, 3)


def test_a_supported_answer_is_kept_verbatim():
    text = "博士后集聚“双百”行动由市委人才办牵头[1]。有效高新技术企业要达到3500家[2]。"
    report = verify(text, CLAUSES)
    assert report.text == text
    assert len(report.kept) == 2 and not report.marked and not report.dropped
    assert report.cited == [1, 2] and report.has_valid_citation
    assert unverified_notice(report) == ""


def test_markers_to_clauses_not_given_are_removed():
    report = verify("有效高新技术企业达3500家[2][7]。瞪羚企业达200家[2, 9]。", CLAUSES)
    assert report.text == "有效高新技术企业达3500家[2]。瞪羚企业达200家[2]。"
    assert report.removed_markers == [7, 9]
    only_unknown = verify("有效高新技术企业达3500家[8]。", CLAUSES)
    assert only_unknown.marked and not only_unknown.has_valid_citation  # unknown-only = no marker at all


@pytest.mark.parametrize(
    "sentence, missing",
    [
        ("有效高新技术企业达3600家[2]。", "3600"),  # a number must match exactly
        ("有效高新技术企业达350家[2]。", "350"),  # not as a part of 3500
        ("研发支出占比重达4.5[3]。", None),  # the number without % is still in the text
        ("研发支出占比重达5%[3]。", "5%"),
        ("博士后集聚行动由市财政局牵头[1]。", "市财政局"),  # a department the clause does not name
        ("实施“昆如意”行动[1]。", "昆如意"),  # a quoted term the clause does not contain
    ],
)
def test_unsupported_details_are_caught(sentence, missing):
    check = check_sentence(split_sentences(sentence)[0], CLAUSES)
    if missing is None:
        assert check.verdict == "kept"
    else:
        assert check.verdict == "marked" and missing in check.support.missing


def test_content_words_need_the_threshold():
    s = support("加大博士后科研工作站支持力度", CLAUSES[1])
    assert s.share == 1.0 and s.ok()
    off = support("为海外留学归国人员提供免费住房和落户便利", CLAUSES[1])
    assert off.share < 0.6 and not off.ok()


def test_unsupported_sentences_are_marked_or_dropped():
    text = "有效高新技术企业达3500家[2]。每位博士后每年补贴20万元[1]。市长负责审批。"
    marked = verify(text, CLAUSES, "mark")
    assert marked.text == f"有效高新技术企业达3500家[2]。每位博士后每年补贴20万元[1]{UNVERIFIED}。市长负责审批{UNVERIFIED}。"
    assert marked.marked == ["每位博士后每年补贴20万元。", "市长负责审批。"]
    assert "每位博士后每年补贴20万元" in unverified_notice(marked)
    dropped = verify(text, CLAUSES, "drop")
    assert dropped.text == "有效高新技术企业达3500家[2]。"
    assert len(dropped.dropped) == 2 and "2 句" in unverified_notice(dropped)


def test_a_sentence_without_marker_is_unsupported_even_when_true():
    report = verify("有效高新技术企业达3500家。", CLAUSES)
    assert report.marked and not report.has_valid_citation


def test_lead_ins_and_the_refusal_need_no_marker():
    report = verify("主要安排如下：\n- 有效高新技术企业达3500家[2]\n- 瞪羚企业达200家[2]", CLAUSES)
    assert report.text.startswith("主要安排如下：\n") and not report.marked
    refusal = verify(REFUSAL, CLAUSES, refusal=REFUSAL)
    assert refusal.checks[0].structural and not refusal.has_valid_citation and refusal.text == REFUSAL
    # a lead-in that states a number is a claim
    assert verify("共有3项：", CLAUSES).marked


def test_incremental_verification_equals_batch():
    text = "博士后集聚“双百”行动由市委人才办牵头。[1]有效高新技术企业达3500家[2][9]；补贴100万元[1]。\n主要有：\n- 瞪羚企业达200家【2】\n"
    batch = verify(text, CLAUSES)
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 12)))
        deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        inc = IncrementalVerifier(lambda s: check_sentence(s, CLAUSES))
        out = [p for d in deltas for p in inc.feed(d)] + list(inc.close())
        assert "".join(out).strip() == batch.text
        assert [c.verdict for c in inc.report.checks] == [c.verdict for c in batch.checks]


def test_supporting_sentence():
    assert supporting_sentence("博士后科研工作站的支持力度", CLAUSES[1]).startswith("启动实施博士后集聚")


def test_refusal_variants():
    assert is_refusal(REFUSAL, REFUSAL) and is_refusal("抱歉，" + REFUSAL, REFUSAL)
    assert not is_refusal("有效高新技术企业达3500家，但" + REFUSAL + "关于金额的部分。", REFUSAL)
    assert not is_refusal("有效高新技术企业达3500家。", REFUSAL)
