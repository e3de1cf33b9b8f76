"""The index on a real Chroma server (`chroma run` on loopback), and what happens when it goes away."""
from __future__ import annotations

import shutil

import pytest

from assistant.answering.service import Assistant
from assistant.retrieval.index import KnowledgeIndex, ingest
from tests.conftest import PLAN
from tests.conftest import chroma_server as start_chroma_server


@pytest.fixture()
def chroma_server(tmp_path):
    """A server of this test's own (the test stops it), apart from the session's one in server mode."""
    with start_chroma_server(tmp_path / "server") as server:
        yield server


def test_index_on_a_chroma_server(chroma_server, plan_index_copy, tmp_path):
    proc, url = chroma_server
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    report = ingest(kb, plan_index_copy, progress=False, chroma_url=url, rebuild=True)
    assert report.embedded == 0  # vectors come from the shared embedding cache
    index = KnowledgeIndex.open(plan_index_copy)
    assert index.manifest.chroma_url == url
    assert not (index.build / "chroma" / "chroma.sqlite3").exists()  # nothing stored locally
    hits = index.dense_search("人才租赁住房申请", k=3)
    assert "四.(六).22" in [c.clause_id for c, _ in hits]
    first = index.manifest.collection

    (kb / "extra.md").write_text("人才驿站\n1. 设立青年人才驿站，提供7天免费住宿。（牵头单位：团市委）\n", encoding="utf-8")
    ingest(kb, plan_index_copy, progress=False, chroma_url=url)
    index = KnowledgeIndex.open(plan_index_copy)
    assert index.manifest.collection != first
    assert index.dense_search("青年人才驿站免费住宿", k=1)[0][0].doc == "extra"

    answer = Assistant(plan_index_copy).run("人才租赁住房这块谁负责？")
    assert "市委人才办" in answer.answer and not answer.notice

    proc.kill()
    proc.wait()
    down = Assistant(plan_index_copy).run("人才租赁住房这块谁负责？")  # server gone: lexical only, with a warning
    assert "市委人才办" in down.answer
    assert "向量检索服务暂不可用" in down.notice
    both = Assistant(plan_index_copy).run("人才公寓的目标是多少套？祖冲之攻关计划由谁牵头？")  # a compound answer keeps it too
    assert both.intent == "target+lead" and both.notice.count("向量检索服务暂不可用") == 1


def test_two_installs_share_a_server_without_dropping_each_others_collections(chroma_server, plan_index, tmp_path):
    _, url = chroma_server
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    first, second = tmp_path / "a" / ".index", tmp_path / "b" / ".index"  # same folder name, two installs
    for index_dir in (first, second):
        index_dir.mkdir(parents=True)
        shutil.copy(plan_index / "embeddings.sqlite", index_dir / "embeddings.sqlite")
        ingest(kb, index_dir, progress=False, chroma_url=url)
    ingest(kb, first, progress=False, chroma_url=url, rebuild=True)  # drops the first install's stale build
    for index_dir in (first, second):
        hits = KnowledgeIndex.open(index_dir).dense_search("人才租赁住房申请", k=3)
        assert "四.(六).22" in [c.clause_id for c, _ in hits]


def test_an_upload_in_the_app_stays_on_the_chroma_server(chroma_server, plan_index_copy, tmp_path):
    pytest.importorskip("gradio")
    from assistant.interfaces.web import WebApp
    from assistant.settings import Settings

    _, url = chroma_server
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    settings = Settings(knowledge_dir=kb, index_dir=plan_index_copy, chroma_url=url)
    ingest(kb, plan_index_copy, progress=False, chroma_url=url, rebuild=True)
    source = tmp_path / "youth.md"
    source.write_text("人才驿站\n1. 设立青年人才驿站，提供7天免费住宿。（牵头单位：团市委）\n", encoding="utf-8")
    assert WebApp(settings, feedback_db=tmp_path / "fb.sqlite").add_file(source).ok
    index = KnowledgeIndex.open(plan_index_copy)
    assert index.manifest.chroma_url == url and "youth" in index.docs
    assert not (index.build / "chroma" / "chroma.sqlite3").exists()
