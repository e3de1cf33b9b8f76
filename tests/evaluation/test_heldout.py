"""The issue-12 held-out batches, kept unchanged, as regression gates: questions on the plan, and
questions on a second (made-up) policy asked of a knowledge base holding it and the plan."""
from __future__ import annotations

import pytest

from assistant.evaluation.questions import load_questions
from assistant.evaluation.runner import evaluate
from assistant.evaluation.systems import AssistantSystem
from tests.conftest import HELDOUT

BARS = {"hit@1": 0.95, "hit@5": 0.99, "facts": 0.95, "refusal_accuracy": 0.95}
MAX_FALSE_REFUSALS = 0.03


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "index"), [("plan-batch.jsonl", "plan_index"), ("upload-batch.jsonl", "upload_index")])
def test_held_out_batch_meets_the_bars(batch, index, request):
    questions = load_questions(HELDOUT / batch)
    assert len(questions) >= (100 if batch.startswith("plan") else 60)
    report = evaluate(questions, [AssistantSystem(request.getfixturevalue(index))], batch)
    overall = report.systems[0].overall
    print(f"\n{batch}: " + ", ".join(f"{k} {overall[k]:.3f}" for k in (*BARS, "false_refusal")))
    assert {k: overall[k] for k in BARS if overall[k] < BARS[k]} == {}, [m.id for m in report.systems[0].misses]
    assert overall["false_refusal"] <= MAX_FALSE_REFUSALS
