from __future__ import annotations

import pytest

from assistant.answering.service import Assistant


@pytest.fixture(scope="session")
def plan_assistant(plan_index):
    return Assistant(plan_index)


@pytest.fixture(scope="session")
def upload_assistant(upload_index):
    """The plan and a second (made-up) policy in one knowledge base."""
    return Assistant(upload_index)


def cited(answer):
    return [c.clause_id for c in answer.citations]
