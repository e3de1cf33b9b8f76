from __future__ import annotations

import json
import shutil

from assistant.interfaces.cli import main
from tests.conftest import PLAN


def test_ingest_prints_a_summary(plan_index_copy, tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    (kb / "empty.txt").write_bytes(b"")
    assert main(["ingest", "--knowledge", str(kb), "--index", str(plan_index_copy), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "documents: 1" in out and "unchanged: 1" in out and "embedded: 0" in out and "seconds:" in out
    assert "empty.txt: empty file" in out


def test_ingest_refuses_a_missing_knowledge_dir(tmp_path, capsys):
    assert main(["ingest", "--knowledge", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), "--quiet"]) == 2
    assert "knowledge directory not found" in capsys.readouterr().err


def test_clauses_json(capsys):
    assert main(["clauses", "--doc", PLAN.stem, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(set(r) == {"doc", "clause_id", "title", "text", "lead_units", "coop_units"} for r in rows)
    taiwan = next(r for r in rows if r["clause_id"] == "四.(五).19")
    assert taiwan["lead_units"] == ["市委台办"] and "团市委" in taiwan["coop_units"]
    assert taiwan["title"].endswith("19. 深化对台人才科创合作")
    assert main(["clauses", "--doc", "no-such-doc"]) == 2


def test_departments_json(capsys):
    assert main(["departments", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert [m["clause_id"] for m in rows["市委台办"]["leads"]] == ["四.(五).19"]
    assert rows["市委人才办"]["aliases"] == ["市委组织部", "市委组织部(人才办)"]
