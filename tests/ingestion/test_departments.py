from __future__ import annotations

from assistant.ingestion import parse_file
from assistant.ingestion.departments import DepartmentRegistry, department_table, find_responsibility, split_units
from tests.conftest import PLAN


def test_prefix_carries_over_and_self_contained_names_stay():
    assert split_units("市教育局、科技局、工信局") == ["市教育局", "市科技局", "市工信局"]
    assert split_units("市委统战部(市侨办)、台办,市科技局、团市委,各区镇") == ["市委统战部(市侨办)", "市委台办", "市科技局", "团市委", "各区镇"]
    assert split_units("市科技局、市场监管局") == ["市科技局", "市市场监管局"]
    assert split_units("工研院") == ["工研院"]


def test_nested_brackets_are_read_whole():
    text = "推进工作。〔牵头单位:市委组织部(人才办);配合单位:市财政局(国资办)、人社局〕"
    leads, coops, span = find_responsibility(text)
    assert leads == ["市委组织部(人才办)"]
    assert coops == ["市财政局(国资办)", "市人社局"]
    assert text[span[0]] == "〔" and text[span[1] - 1] == "〕"


def test_unbracketed_and_fullwidth_labels():
    leads, coops, _ = find_responsibility("做好保供工作。牵头单位：市商务局；配合单位：市发改委、交通局。")
    assert leads == ["市商务局"] and coops == ["市发改委", "市交通局"]
    assert find_responsibility("没有分工的条款。") == ([], [], None)


def test_registry_merges_bracket_aliases_under_the_most_used_name():
    registry = DepartmentRegistry.build(["市委组织部(人才办)", "市委人才办", "市委人才办", "市财政局", "市财政局", "市财政局(国资办)"])
    assert registry.resolve("市委组织部(人才办)") == "市委人才办"
    assert registry.resolve("市委组织部（人才办）") == "市委人才办"
    assert registry.resolve("市国资办") == "市财政局"
    assert set(registry.departments) == {"市委人才办", "市财政局"}


def test_plan_department_table():
    rows = {r.name: r for r in department_table(parse_file(PLAN).clauses)}
    assert [m.clause_id for m in rows["市委台办"].leads] == ["四.(五).19"]
    assert [m.clause_id for m in rows["市委台办"].cooperates] == ["四.(三).9"]
    assert [m.clause_id for m in rows["团市委"].cooperates] == ["四.(五).19"]
    talent = rows["市委人才办"]
    assert "市委组织部(人才办)" in talent.aliases
    assert len(talent.leads) == 12  # 1 (as 市委组织部(人才办)), 2, 4, 5, 6, 9, 12, 17, 18, 20, 21, 22
    tech = rows["市科技局"]
    assert [m.clause_id.split(".")[-1] for m in tech.leads] == ["7", "8", "10", "11", "13", "14", "15", "16", "17", "18"]
    assert "各区镇" in rows
    assert "市财政局(国资办)" not in rows  # resolved to 市财政局
