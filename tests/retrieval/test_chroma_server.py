"""The index on a real Chroma server (`chroma run` on loopback), and what happens when it goes away."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.answering.service import Assistant
from assistant.retrieval.index import KnowledgeIndex, ingest
from tests.conftest import KNOWLEDGE, PLAN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path):
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield proc, f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait()


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
