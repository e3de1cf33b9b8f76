"""Uploads from the 知识库 tab, each indexed by its own worker process.

The web process only stages the file (``<index>/uploads/<job>/<name>``) and starts
``python -m assistant.uploads <uploads dir> <job>``, which runs the real ingest with the staged file
as one more knowledge file. Only when that build serves is the file moved into the knowledge
directory, so a file there is always one the index holds. Embedding never runs in the web process
(the chat stays responsive), and a crash of either process loses nothing: on the next start a job
left unfinished is completed if its build serves, else recorded as failed with its reason (shown in
知识库) and never embedded again.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.models import IngestReport
from assistant.settings import Settings

UPLOADS_DIR = "uploads"
# what the worker needs to build as the app would (the LLM settings, with the API key, stay behind)
INGEST_SETTINGS = {"knowledge_dir", "index_dir", "embedder", "max_clause_chars", "window_chars", "embed_batch", "sentence_vectors", "chroma_url", "max_file_passages"}
INTERRUPTED = "上次入库在完成前中断（应用或入库进程退出），文件未加入知识库；如需收录请重新上传（ingest interrupted）"


class UploadJob(BaseModel):
    id: str
    original: str = Field(description="the file name as uploaded")
    name: str = Field(description="its name in the knowledge directory")
    sha256: str
    size: int
    state: Literal["running", "done", "failed"] = "running"
    message: str = Field("", description="why it failed, in Chinese")
    pid: int | None = None
    created: float = Field(default_factory=time.time)
    finished: float | None = None
    embedded: int = 0  # progress of the worker's embedding
    to_embed: int = 0
    report: IngestReport | None = None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def copy_atomically(source: Path, target: Path) -> None:
    """Copy under a hidden name (ingest skips dot files), then rename: nobody sees half a file."""
    tmp = target.with_name(f".upload-{uuid.uuid4().hex}{target.suffix}")
    shutil.copyfile(source, tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


class UploadStore:
    """The upload jobs of one index: ``<id>.json`` records, ``<id>/`` staged files."""

    def __init__(self, index_dir: Path) -> None:
        self.root = Path(index_dir) / UPLOADS_DIR

    def staged(self, job: UploadJob) -> Path:
        return self.root / job.id / job.name

    def save(self, job: UploadJob) -> None:
        _write_atomically(self.root / f"{job.id}.json", job.model_dump_json(indent=1).encode("utf-8"))

    def load(self, job_id: str) -> UploadJob:
        return UploadJob.model_validate_json((self.root / f"{job_id}.json").read_text(encoding="utf-8"))

    def jobs(self) -> list[UploadJob]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob("*.json"):
            try:
                found.append(UploadJob.model_validate_json(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):  # a record half-written by a killed process: atomic writes make this rare
                continue
        return sorted(found, key=lambda j: j.created)

    def failed(self) -> list[UploadJob]:
        return [j for j in self.jobs() if j.state == "failed"]

    def stage(self, source: Path, name: str, original: str, sha256: str, settings: Settings) -> UploadJob:
        job = UploadJob(id=f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}", original=original, name=name, sha256=sha256, size=source.stat().st_size)
        (self.root / job.id).mkdir(parents=True)
        copy_atomically(source, self.staged(job))
        settings_json = settings.model_dump_json(include=INGEST_SETTINGS)
        _write_atomically(self.root / job.id / "settings.json", settings_json.encode("utf-8"))
        self.save(job)
        return job

    def finish(self, job: UploadJob, state: Literal["done", "failed"], message: str = "") -> UploadJob:
        job.state, job.message, job.finished = state, message, time.time()
        self.save(job)
        shutil.rmtree(self.root / job.id, ignore_errors=True)  # the staged bytes: in knowledge/ now, or refused
        return job

    # -- the worker's side --------------------------------------------------------------------------
    def run(self, job: UploadJob) -> UploadJob:
        """Index the staged file with the knowledge directory; move it there once its build serves."""
        from assistant.retrieval.index import IndexError_, ingest_configured

        settings = Settings(**json.loads((self.root / job.id / "settings.json").read_text(encoding="utf-8")))
        staged = self.staged(job)
        last = [0.0]

        def on_progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= 1 or done == total:  # the record is rewritten at most once a second
                last[0] = time.monotonic()
                job.embedded, job.to_embed = done, total
                self.save(job)

        try:
            report = ingest_configured(settings, extra_files=[staged], progress=False, on_progress=on_progress)
        except IndexError_ as exc:
            return self.finish(job, "failed", f"未能重建索引，文件未加入知识库：{exc}")
        except Exception as exc:  # recorded for the page; the traceback goes to the job's log
            import traceback

            traceback.print_exc()
            return self.finish(job, "failed", f"入库时出错，文件未加入知识库（{type(exc).__name__}: {str(exc)[:200]}）")
        own = [e for e in report.errors if Path(e.path) == staged]
        job.report = report
        if own:
            return self.finish(job, "failed", f"{job.original}：入库失败，未加入知识库（{own[0].message}）")
        self.publish(job, Path(settings.knowledge_dir))
        return self.finish(job, "done")

    def publish(self, job: UploadJob, knowledge_dir: Path) -> None:
        knowledge_dir.mkdir(parents=True, exist_ok=True)
        copy_atomically(self.staged(job), knowledge_dir / job.name)

    # -- after a restart ----------------------------------------------------------------------------
    def recover(self, knowledge_dir: Path, serving_docs: dict[str, str]) -> list[UploadJob]:
        """Jobs whose worker is gone: completed when the serving build holds the file (doc → sha256),
        else recorded as failed. Returns the jobs it changed."""
        changed = []
        for job in self.jobs():
            if job.state != "running" or _alive(job.pid):
                continue
            if serving_docs.get(Path(job.name).stem) == job.sha256 and self.staged(job).is_file():
                self.publish(job, knowledge_dir)  # the build swapped in just before the crash
                changed.append(self.finish(job, "done"))
            else:
                changed.append(self.finish(job, "failed", INTERRUPTED))
        return changed

    # -- the web process's side -----------------------------------------------------------------------
    def start(self, job: UploadJob) -> subprocess.Popen:
        log = (self.root / f"{job.id}.log").open("ab")
        try:
            # its own session: stopping the app (Ctrl-C to its process group) lets a running ingest finish
            proc = subprocess.Popen(
                [sys.executable, "-m", "assistant.uploads", str(self.root), job.id],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        job.pid = proc.pid
        self.save(job)
        return proc

    def wait(self, job: UploadJob, proc: subprocess.Popen, progress: Callable[[UploadJob], None] | None = None, poll: float = 0.5) -> UploadJob:
        """Until the worker exits; a worker that died without recording an outcome fails the job."""
        while proc.poll() is None:
            if progress is not None:
                try:
                    progress(self.load(job.id))
                except (OSError, ValueError):
                    pass
            time.sleep(poll)
        job = self.load(job.id)
        if job.state == "running":
            tail = _tail(self.root / f"{job.id}.log")
            job = self.finish(job, "failed", f"入库进程异常退出（退出码 {proc.returncode}），文件未加入知识库（worker exited{': ' + tail if tail else ''}）")
        return job


def _alive(pid: int | None) -> bool:
    """Is `pid` a running upload worker (not a recycled pid)?"""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"assistant.uploads" in cmdline


def _tail(log: Path, chars: int = 200) -> str:
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][-chars:] if lines else ""


def main(argv: list[str]) -> int:
    root, job_id = Path(argv[0]), argv[1]
    store = UploadStore(root.parent)
    job = store.run(store.load(job_id))
    return 0 if job.state == "done" else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    sys.exit(main(sys.argv[1:]))
