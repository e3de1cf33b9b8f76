"""Uploads in the 知识库 tab: indexed by a worker process, in knowledge/ only once indexed, refused in
Chinese when too large or too costly, and a crash loses nothing (real files, real ingest, real app)."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPLOADED

gr = pytest.importorskip("gradio")

from assistant.interfaces.web import UPLOAD_CACHE, WebApp, serving_docs  # noqa: E402
from assistant.ingestion.pipeline import file_sha256  # noqa: E402
from assistant.retrieval.index import current_build, ingest_configured  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.uploads import INTERRUPTED, UploadStore  # noqa: E402
from tests.retrieval.test_cost import big_policy  # noqa: E402


@pytest.fixture()
def web(settings: Settings, tmp_path: Path) -> WebApp:
    return WebApp(settings, feedback_db=tmp_path / "feedback.sqlite")


def listing(settings: Settings) -> list[str]:
    return sorted(p.name for p in Path(settings.knowledge_dir).iterdir())


def test_a_costly_upload_is_refused_with_its_estimate_and_listed(settings, tmp_path):
    settings = settings.model_copy(update={"max_upload_mb": 25})
    web = WebApp(settings, feedback_db=tmp_path / "fb.sqlite")
    before, build = listing(settings), current_build(settings.index_dir)
    result = web.add_file(big_policy(tmp_path / "全市政策汇编.txt", 20))
    assert not result.ok and "文件过大" in result.html and "上限 9,000 段" in result.html and "ASSISTANT_MAX_FILE_PASSAGES" in result.html, result.html
    assert listing(settings) == before and current_build(settings.index_dir) == build
    # recorded with its reason in 知识库, also after a restart, and never staged again
    for app in (web, WebApp(settings, feedback_db=tmp_path / "fb.sqlite")):
        table = app.docs_table()
        assert "未能入库的上传" in table and "全市政策汇编.txt" in table and "文件过大" in table
    assert not any(p.is_dir() for p in UploadStore(settings.index_dir).root.iterdir())


def test_an_upload_over_the_size_limit_is_refused_in_chinese(settings, tmp_path):
    web = WebApp(settings.model_copy(update={"max_upload_mb": 1}), feedback_db=tmp_path / "fb.sqlite")
    big = tmp_path / "big.txt"
    big.write_bytes("政策".encode("utf-8") * 400_000)  # 2.3 MB
    result = web.add_file(big)
    assert not result.ok and "文件过大（2.3 MB），上传上限为 1 MB" in result.html and "kp-error" in result.html
    assert not UploadStore(settings.index_dir).jobs()  # refused before anything was staged


def test_the_served_app_limits_uploads_and_cleans_its_cache(settings, tmp_path, monkeypatch):
    from assistant.interfaces import web
    from assistant.interfaces.web import build_app, launch_app
    from tests.conftest import free_port

    assert UPLOAD_CACHE == (3600, 3600)
    monkeypatch.setattr(web, "UPLOAD_CACHE", (1, 1))  # Gradio's cache clean-up, every second instead of every hour
    demo = build_app(settings.model_copy(update={"max_upload_mb": 1}), feedback_db=tmp_path / "fb.sqlite")
    port = free_port()
    server = launch_app(demo, port, prevent_thread_lock=True)
    try:
        url = f"http://127.0.0.1:{port}"
        big = httpx.post(f"{url}/gradio_api/upload", files={"files": ("zeros.txt", b"\0" * (2 * 2**20))}, timeout=120)
        assert big.status_code == 413  # refused on the upload route itself, not only in the browser
        small = httpx.post(f"{url}/gradio_api/upload", files={"files": ("ok.txt", "政策".encode())}, timeout=120)
        assert small.status_code == 200 and demo.max_file_size == 2**20
        kept = Path(small.json()[0])
        assert kept.read_bytes() == "政策".encode()  # younger than the 1 s age: still there
        deadline = time.monotonic() + 120  # a sanity bound: the clean-up runs every second
        while kept.exists():
            assert time.monotonic() < deadline, f"{kept} was never deleted"
            time.sleep(0.5)
        page = httpx.get(url, timeout=120).text
        assert "文件过大" in page and "上传上限为" in page  # the tab's own message when the browser refuses a file
    finally:
        server.close()


def test_an_upload_indexes_in_its_own_process_while_questions_are_answered(web, settings):
    before = listing(settings)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(upload=web.add_file(UPLOADED)))
    worker.start()
    answered_while_indexing = 0
    store = UploadStore(settings.index_dir)
    while worker.is_alive():
        answer = web.ask("博士后集聚“双百”行动由谁牵头？")
        assert "市人社局" in answer["answer"]
        in_knowledge = UPLOADED.name in listing(settings)
        # in knowledge/ only once a build holding it serves (the swap comes first, then the move)
        assert not in_knowledge or UPLOADED.stem in serving_docs(settings.index_dir)
        jobs = store.jobs()
        if jobs and jobs[-1].state == "running":
            answered_while_indexing += 1
            assert jobs[-1].pid != os.getpid()
    worker.join()
    assert result["upload"].ok, result["upload"].html
    assert answered_while_indexing >= 1
    assert listing(settings) == sorted([*before, UPLOADED.name])
    assert "chengchuan-youth-talent-measures" in web.index().docs


def test_a_killed_worker_loses_nothing_and_is_not_retried(web, settings, tmp_path):
    before, build = listing(settings), current_build(settings.index_dir)
    store = UploadStore(settings.index_dir)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(upload=web.add_file(UPLOADED)))
    worker.start()
    deadline = time.monotonic() + 120  # a sanity bound: the worker starts in a second
    while not (store.jobs() and store.jobs()[-1].pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(store.jobs()[-1].pid, signal.SIGKILL)
    worker.join()
    upload = result["upload"]
    assert not upload.ok and "入库进程异常退出" in upload.html and "文件未加入知识库" in upload.html, upload.html
    assert listing(settings) == before and current_build(settings.index_dir) == build
    restarted = WebApp(settings, feedback_db=tmp_path / "fb2.sqlite")
    assert "入库进程异常退出" in restarted.docs_table() and store.jobs()[-1].state == "failed"


def test_after_a_crash_a_job_is_completed_if_its_build_serves_else_recorded(settings, tmp_path):
    """The app (or its worker) killed between the build swap and the move into knowledge/: the next start
    moves the file in; a job whose build never served is recorded as failed and not run again."""
    store = UploadStore(settings.index_dir)
    swapped = store.stage(UPLOADED, UPLOADED.name, UPLOADED.name, file_sha256(UPLOADED.read_bytes()), settings)
    ingest_configured(settings, extra_files=[store.staged(swapped)], progress=False)  # what the worker did before dying
    lost = store.stage(UPLOADED, "other.txt", "other.txt", "0" * 64, settings)
    for job in (swapped, lost):
        job.pid = 2**22 + 12345  # no such process
        store.save(job)
    build = current_build(settings.index_dir)
    web = WebApp(settings, feedback_db=tmp_path / "fb.sqlite")
    assert (Path(settings.knowledge_dir) / UPLOADED.name).read_bytes() == UPLOADED.read_bytes()
    assert "other.txt" not in listing(settings)
    assert store.load(swapped.id).state == "done" and store.load(lost.id).state == "failed"
    assert store.load(lost.id).message == INTERRUPTED and INTERRUPTED in web.docs_table()
    assert current_build(settings.index_dir) == build  # nothing embedded again
