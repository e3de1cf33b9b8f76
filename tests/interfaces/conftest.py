"""Fixtures shared by the interface tests: settings on a private copy of the plan, and the app served
on a free loopback port."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PLAN, free_port


@pytest.fixture()
def settings(plan_index_copy: Path, tmp_path: Path):
    """Settings on a private index and knowledge dir: the repo's knowledge/ is never written."""
    from assistant.settings import Settings

    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(PLAN, kb)
    return Settings(knowledge_dir=kb, index_dir=plan_index_copy)


@pytest.fixture()
def served(settings, tmp_path: Path) -> Iterator[tuple[object, str]]:
    """(the Gradio app, its URL), launched in this process; feedback goes to its own file."""
    from assistant.interfaces.web import build_app, launch_app

    demo = build_app(settings, feedback_db=tmp_path / "served-feedback.sqlite")
    port = free_port()
    server = launch_app(demo, port, prevent_thread_lock=True)
    try:
        yield demo, f"http://127.0.0.1:{port}/"
    finally:
        server.close()
