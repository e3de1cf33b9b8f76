"""The issue-12 held-out batches as regression gates. The plan's batches joined the dev set
(eval/questions.jsonl, gated by `make test`'s eval); the batches on a second, made-up policy are asked
here of a knowledge base holding it and the plan, as a user who uploaded it would."""
from __future__ import annotations

import pytest

from assistant.evaluation.questions import load_questions
from assistant.evaluation.runner import evaluate
from assistant.evaluation.systems import AssistantSystem
from tests.conftest import HELDOUT, ROOT

BARS = {"hit@1": 0.95, "hit@5": 0.99, "facts": 0.95, "refusal_accuracy": 0.95}
MAX_FALSE_REFUSALS = 0.03
UPLOAD_BATCHES = ("upload-batch.jsonl", "sealed-upload.jsonl", "sealed2-upload.jsonl")
PLAN_BATCHES = ("plan-batch.jsonl", "sealed-plan.jsonl", "sealed2-plan.jsonl")


def test_plan_batches_are_part_of_the_dev_set():
    dev = {q.id for q in load_questions(ROOT / "eval" / "questions.jsonl")}
    for batch in PLAN_BATCHES:
        assert {q.id for q in load_questions(HELDOUT / batch)} <= dev, batch


@pytest.mark.slow
def test_upload_batches_meet_the_bars(upload_index):
    questions = [q for batch in UPLOAD_BATCHES for q in load_questions(HELDOUT / batch)]
    assert len(questions) >= 60
    report = evaluate(questions, [AssistantSystem(upload_index)], "upload batches")
    overall = report.systems[0].overall
    print("\nupload batches: " + ", ".join(f"{k} {overall[k]:.3f}" for k in (*BARS, "false_refusal")))
    assert {k: overall[k] for k in BARS if overall[k] < BARS[k]} == {}, [m.id for m in report.systems[0].misses]
    assert overall["false_refusal"] <= MAX_FALSE_REFUSALS
