from __future__ import annotations

import pytest

from assistant.ingestion import parse_document, parse_file
from assistant.ingestion.structure import build_tree, parse_clauses
from tests.conftest import NCP, PLAN, need

# 四、主要举措 as the text states it: (clause_id, lead units, co-operating units); 市/市委 expanded.
MEASURES = [
    ("四.(一).1", ["市委组织部(人才办)"], ["市委人才工作领导小组成员单位"]),
    ("四.(一).2", ["市委人才办"], ["市教育局", "市科技局", "市工信局", "市民政局", "市人社局", "市农业农村局", "市文体广旅局", "市卫健委", "市金融办", "市杜克中心", "市科创发展服务中心", "各区镇"]),
    ("四.(一).3", ["市财政局"], ["市委人才办", "市科技局", "市人社局", "市科创发展服务中心", "各区镇"]),
    ("四.(二).4", ["市委人才办"], ["市委统战部(市侨办)", "市科技局", "市工信局", "市人社局", "市人力资源市场", "市杜克中心", "市科创发展服务中心", "各区镇"]),
    ("四.(二).5", ["市委人才办"], ["市教育局", "市科技局", "市民政局", "市人社局", "市文体广旅局", "市卫健委", "市市场监管局", "各区镇"]),
    ("四.(二).6", ["市委人才办"], ["市教育局", "市科技局", "市工信局", "市民政局", "市财政局", "市人社局", "市农业农村局", "市文体广旅局", "市卫健委", "市金融办", "市杜克中心", "市科创发展服务中心", "各区镇"]),
    ("四.(三).7", ["市科技局"], ["市发改委", "市工信局", "市工研院", "各区镇"]),
    ("四.(三).8", ["市科技局"], ["市工研院", "各区镇"]),
    ("四.(三).9", ["市委人才办"], ["市委统战部(市侨办)", "市委台办", "市科技局", "市人社局", "市资源规划局", "市工研院", "各区镇"]),
    ("四.(三).10", ["市科技局"], ["市工信局", "市财政局", "市人社局", "市商务局", "市金融办", "市科创发展服务中心", "市工研院", "各区镇"]),
    ("四.(三).11", ["市科技局", "市工研院"], ["市发改委", "市科创发展服务中心", "各区镇"]),
    ("四.(三).12", ["市委人才办", "市金融办"], ["市科技局", "市财政局(国资办)", "市市场监管局", "市科创发展服务中心", "市创控集团", "市工研院", "各区镇"]),
    ("四.(四).13", ["市发改委", "市科技局", "市工信局"], ["市财政局(国资办)", "市商务局", "市市场监管局", "市金融办", "各区镇"]),
    ("四.(四).14", ["市科技局"], ["市工信局", "市金融办", "各区镇"]),
    ("四.(四).15", ["市科技局", "市工信局"], ["市发改委", "市财政局", "市市场监管局", "市工研院", "各区镇"]),
    ("四.(四).16", ["市科技局"], ["市发改委", "市工信局", "市市场监管局", "市工研院", "各区镇"]),
    ("四.(五).17", ["市委人才办", "市科技局"], ["市发改委", "市工信局", "市人社局", "市市场监管局", "市金融办", "市工研院", "各区镇"]),
    ("四.(五).18", ["市委人才办", "市科技局"], ["市发改委", "市工信局", "市工研院", "各区镇"]),
    ("四.(五).19", ["市委台办"], ["市发改委", "市科技局", "市人社局", "团市委", "各区镇"]),
    ("四.(六).20", ["市委人才办"], ["市发改委", "市科技局", "市工信局", "市财政局", "市人社局", "市资源规划局", "市住建局", "市商务局", "市行政审批局", "市市场监管局", "市统计局", "市科创发展服务中心", "市大数据中心", "市税务局", "各区镇"]),
    ("四.(六).21", ["市委人才办"], ["市发改委", "市科技局", "市工信局", "市人社局", "市科创发展服务中心", "市工研院", "各区镇"]),
    ("四.(六).22", ["市委人才办"], ["市教育局", "市资源规划局", "市住建局", "市商务局", "市文体广旅局", "市卫健委", "市科创发展服务中心", "市大数据中心", "各区镇"]),
]


@pytest.fixture(scope="module")
def plan():
    return parse_file(PLAN)


def test_plan_has_all_22_measures_with_their_units(plan):
    measures = [c for c in plan.clauses if c.clause_id.startswith("四.(") and c.clause_id.count(".") == 2]
    got = [(c.clause_id, c.lead_units, c.coop_units) for c in measures]
    assert got == MEASURES


def test_plan_heading_path_and_readable_ids(plan):
    by_id = {c.clause_id: c for c in plan.clauses}
    five = by_id["四.(二).5"]
    assert five.heading_path == ["四、主要举措", "(二)推进“机制创新”三大计划", "5. 推进人才培养群英计划"]
    assert "博士后集聚“双百”行动" in five.text
    assert five.text.startswith("5. 推进人才培养群英计划。")


def test_plan_principles_guarantees_targets_and_metadata(plan):
    ids = [c.clause_id for c in plan.clauses]
    assert [i for i in ids if i.startswith("三.")] == ["三.1", "三.2", "三.3", "三.4"]
    assert [i for i in ids if i.startswith("五.")] == ["五.1", "五.2", "五.3"]
    targets = [c for c in plan.clauses if c.kind == "target"]
    assert [c.heading_path[-1] for c in targets] == [
        "——人才集聚迈上新台阶", "——科创平台跃升新能级", "——科创企业壮大新动能", "——人才质效取得新突破", "——创新生态厚植新优势",
    ]
    meta = plan.meta
    assert meta.title == "昆山人才科创发展行动计划(2022~2025年)"
    assert meta.fields["文号"] == "昆办发〔2022〕67号"
    assert meta.fields["发文单位"] == "中共昆山市委办公室、昆山市人民政府办公室"
    assert meta.fields["级别"] == "昆山市级" and meta.fields["状态"] == "有效"
    assert "人才激励政策" in meta.fields["分类"] and "奖励" in meta.fields["支持方式"]
    assert "未收录" in meta.fields["附件"]
    head = plan.clauses[0]
    assert head.clause_id == "文件信息" and "昆办发〔2022〕67号" in head.text
    assert plan.clauses[1].clause_id == "序言" and plan.clauses[1].text.startswith("为全面贯彻落实")
    assert ids[-1] == "附件"


def _assert_covers(parsed):
    covered = bytearray(len(parsed.body))
    for c in parsed.clauses:
        assert c.text.strip(), c.clause_id
        if c.kind == "metadata":
            continue
        assert parsed.body[c.start : c.end] == c.text
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    missing = [i for i, ch in enumerate(parsed.body) if not ch.isspace() and not covered[i]]
    assert not missing, parsed.body[missing[0] : missing[0] + 40]


def test_plan_clauses_cover_the_whole_text(plan):
    _assert_covers(plan)


def test_chapters_articles_and_parenthesised_numbers():
    text = (
        "某市人才公寓管理办法\n第一章 总则\n第一条 为规范人才公寓管理，制定本办法。\n第二条 本办法适用于全市。\n"
        "第二章 申请\n第三条 申请条件如下：\n（1）在本市就业；\n（2）无自有住房。\n第四条 由市住建局负责受理。\n"
    )
    parsed = parse_document("rules", text)
    ids = [c.clause_id for c in parsed.clauses]
    assert ids == ["序言", "第一章", "第一章.第一条", "第一章.第二条", "第二章", "第二章.第三条", "第二章.第三条.(1)", "第二章.第三条.(2)", "第二章.第四条"]
    assert parsed.meta.title == "某市人才公寓管理办法"


def test_one_line_scraped_document_splits_on_layout_spaces():
    text = "关于支持企业的通知 各区：现通知如下。 一、减免房租 对承租国有房屋的企业免收1个月房租。 二、稳定就业 （一）发放补贴 按规定发放。（牵头单位：市人社局；责任单位：市财政局、税务局）"
    parsed = parse_document("notice", text)
    by_id = {c.clause_id: c for c in parsed.clauses}
    assert set(by_id) == {"序言", "一", "二", "二.(一)"}
    assert by_id["一"].heading_path == ["一、减免房租"]
    assert by_id["二.(一)"].lead_units == ["市人社局"]
    assert by_id["二.(一)"].coop_units == ["市财政局", "市税务局"]  # 责任单位 beside a 牵头单位 co-operates
    _assert_covers(parsed)


def test_unnumbered_news_falls_back_to_windows_under_the_title():
    sentence = "市人社局今日发布消息，高校毕业生可以在线办理就业登记，相关补贴将按月发放到个人账户。"
    text = "高校毕业生就业服务线上办理\n" + sentence * 12
    parsed = parse_document("news", text, window_chars=120)
    assert all(c.kind == "paragraph" for c in parsed.clauses)
    assert len(parsed.clauses) > 3
    assert all(c.heading_path == ["高校毕业生就业服务线上办理"] for c in parsed.clauses)
    assert all(len(c.text) <= 120 for c in parsed.clauses)
    _assert_covers(parsed)


def test_long_clause_windows_stay_inside_their_clause():
    long_body = "。".join(f"第{i}项具体措施的内容说明" * 3 for i in range(40)) + "。"
    text = f"一、第一部分\n{long_body}\n二、第二部分\n短句。"
    clauses = parse_clauses("d", "t", text, max_chars=200, window_chars=150)
    first = [c for c in clauses if c.clause_id == "一"]
    assert len(first) > 3 and all(c.windows == len(first) for c in first)
    assert all(c.heading_path == ["一、第一部分"] for c in first)
    assert all("二、第二部分" not in c.text for c in first)
    assert [c.window for c in first] == list(range(len(first)))
    assert len({c.key for c in clauses}) == len(clauses)


def test_decimal_numbers_are_not_headings():
    _, nodes = build_tree("一、目标\n1.5倍的增长目标。\n2. 第二项。")
    assert [n.ident for n in nodes] == ["一", "2"]


def test_every_ncp_document_parses_and_is_covered():
    docs = sorted((need(NCP) / "docs").glob("*.txt"))
    assert len(docs) == 599
    total = 0
    for path in docs:
        parsed = parse_file(path)
        assert parsed.clauses, path.name
        assert len({c.key for c in parsed.clauses}) == len(parsed.clauses)
        _assert_covers(parsed)
        total += len(parsed.clauses)
    assert total > 3000
