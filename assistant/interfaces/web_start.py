"""Start-up steps of the web app that do not need Gradio (so app.py can run them before importing it)."""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from pathlib import Path

from assistant.models import IngestReport
from assistant.retrieval.index import NoDocumentsError, current_build, ingest_configured
from assistant.settings import Settings

log = logging.getLogger(__name__)


class BindError(ValueError):
    """The app would be reachable from other machines with its API open."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, settings: Settings) -> str | None:
    """The /v1 API key (None: open, allowed on loopback only)."""
    key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    if not key and not is_loopback(host):
        raise BindError(f"绑定到 {host} 时必须设置 API 密钥（ASSISTANT_API_KEY），否则任何能访问这台机器的人都能调用 /v1 接口。")
    return key or None


def ensure_index(settings: Settings) -> IngestReport | None:
    """Build the index from the knowledge directory when there is none; None when it already exists,
    or when no file in the folder can be ingested (the app then starts on an empty knowledge base
    and says so: files can still be uploaded)."""
    if current_build(Path(settings.index_dir)) is not None:
        return None
    print(f"没有索引：正在从 {settings.knowledge_dir} 建立索引到 {settings.index_dir} …", flush=True)
    try:
        report = ingest_configured(settings, progress=True)
    except NoDocumentsError as exc:
        print(f"{exc}\n知识库为空：应用照常启动，可在「知识库」页上传政策文件。", flush=True)
        return None
    print(f"索引已建立：文件 {report.documents} 个，条款 {report.clauses} 条，用时 {report.seconds:.1f} 秒。", flush=True)
    for error in report.errors:
        print(f"  未能入库：{error.path}: {error.message}", flush=True)
    if report.notice:
        print(report.notice, flush=True)
    return report


class WarmUp:
    """Loads the searcher and the embedder in the background while Gradio starts. The first questions
    wait for it: opening the index from two threads at once races inside Chroma."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.done = threading.Event()
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name="warm-up", daemon=True)

    def start(self) -> "WarmUp":
        self._thread.start()
        return self

    def wait(self, timeout: float = 120.0) -> bool:
        return self.done.wait(timeout)

    def _run(self) -> None:
        from assistant.answering.service import Assistant
        from assistant.retrieval.index import IndexError_

        started = time.perf_counter()
        try:
            Assistant(Path(self.settings.index_dir), self.settings).run("人才")
        except IndexError_ as exc:  # the first question reports it to the user
            log.warning("warm-up skipped: %s", exc)
        except Exception:  # likewise; logged here with its traceback
            log.exception("warm-up failed")
        finally:
            self.seconds = time.perf_counter() - started
            self.done.set()
