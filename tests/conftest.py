from __future__ import annotations

import os
import shutil
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


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


@pytest.fixture(scope="session")
def plan_index(tmp_path_factory) -> Path:
    """An index of the shipped knowledge base, built once per test session."""
    from assistant.retrieval.index import ingest

    index = tmp_path_factory.mktemp("plan-index")
    ingest(KNOWLEDGE, index, "e5", progress=False)
    return index


@pytest.fixture()
def plan_index_copy(plan_index, tmp_path) -> Path:
    """A private copy of the plan index (its embedding cache makes re-ingests of the plan free)."""
    target = tmp_path / "index"
    shutil.copytree(plan_index, target)
    return target
