from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
PLAN = KNOWLEDGE / "kunshan-talent-plan-2022-2025.md"
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DIR", ROOT.parent / "shared"))
SEED = SHARED / "seed" / "kunshan-talent-plan-2022-2025.txt"
NCP = SHARED / "corpora" / "ncp-policy-qa"


# gradio_client's requests time out after 5 s by default: a machine busy with other jobs takes longer to
# serve 50 clients connecting at once. A sanity bound, not a speed requirement.
CLIENT_HTTPX = {"timeout": 120}


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


@pytest.fixture(scope="session")
def plan_index(tmp_path_factory, chroma_server_mode) -> Path:
    """An index of the shipped knowledge base, built once per test session (on the Chroma server in
    server mode)."""
    from assistant.retrieval.index import ingest

    index = tmp_path_factory.mktemp("plan-index")
    ingest(KNOWLEDGE, index, "e5", progress=False)
    return index


HELDOUT = ROOT / "tests" / "data" / "heldout"
UPLOADED = HELDOUT / "chengchuan-youth-talent-measures.txt"  # a made-up municipal policy (see its README)


@pytest.fixture(scope="session")
def upload_index(plan_index, tmp_path_factory) -> Path:
    """A knowledge base holding the plan and a second policy, as after a user's upload (the plan's
    vectors come from the plan index's embedding cache)."""
    from assistant.retrieval.index import ingest

    kb = tmp_path_factory.mktemp("upload-kb")
    shutil.copy(PLAN, kb)
    shutil.copy(UPLOADED, kb)
    index = tmp_path_factory.mktemp("upload-index")
    shutil.copy(plan_index / "embeddings.sqlite", index / "embeddings.sqlite")
    ingest(kb, index, "e5", progress=False)
    return index


@pytest.fixture()
def plan_index_copy(plan_index, tmp_path) -> Path:
    """A private copy of the plan index (its embedding cache makes re-ingests of the plan free)."""
    target = tmp_path / "index"
    shutil.copytree(plan_index, target)
    return target


# -- measurements (load, memory): written to test-artifacts/ and shown at the end of every run -----------
ARTIFACTS = ROOT / "test-artifacts"
_MEASUREMENTS: list[tuple[str, dict]] = []


@pytest.fixture()
def report_measurement(record_property):
    """`report(name, figures)`: writes test-artifacts/<name>.json, prints the figures, and lists them in
    the run's terminal summary (so a plain `pytest -q` log, e.g. the CI's, shows them)."""

    def report(name: str, figures: dict) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        record_property(name, figures)
        _MEASUREMENTS.append((name, figures))
        print(f"{name}: {json.dumps(figures, ensure_ascii=False)}")

    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if _MEASUREMENTS:
        terminalreporter.section("measurements")
        for name, figures in _MEASUREMENTS:
            terminalreporter.write_line(f"{name}: {json.dumps(figures, ensure_ascii=False)}  (test-artifacts/{name}.json)")


# -- a real Chroma server (`chroma run`) on loopback ----------------------------------------------------
CHROMA_SERVER_ENV = "ASSISTANT_TEST_CHROMA_SERVER"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, whatever http_proxy says


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`chroma run --path <path>` on a free 127.0.0.1 port; yields (process, url) once it answers its
    heartbeat, and stops it afterwards (the caller may kill it earlier)."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with code {proc.returncode}")
            try:
                with _NO_PROXY.open(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("chroma run did not answer within 60 s")
            time.sleep(0.2)
        yield proc, url
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it does not exit within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session", autouse=True)
def chroma_server_mode(tmp_path_factory) -> Iterator[str | None]:
    """With ASSISTANT_TEST_CHROMA_SERVER=1, the whole session runs against one real Chroma server: every
    `ingest` (and the CLI, through ASSISTANT_CHROMA_URL) puts its vectors there. Yields its URL, or None."""
    if os.environ.get(CHROMA_SERVER_ENV, "").strip() not in ("1", "true", "yes"):
        yield None
        return
    from assistant.retrieval.index import ingest

    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as (_, url), pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_CHROMA_URL", url)
        mp.setitem(ingest.__kwdefaults__, "chroma_url", url)
        yield url
