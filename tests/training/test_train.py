"""A smoke run of `assistant train` on the shipped plan (a few steps: training is not part of the tests),
then the folds it wrote used the way `assistant eval --cross-validated` uses them."""
from __future__ import annotations

import json
import os

import pytest

from assistant.training.data import fold_of

pytestmark = pytest.mark.skipif(os.environ.get("ASSISTANT_TEST_CHROMA_SERVER", "").strip() in ("1", "true", "yes"), reason="covered by the first pass")
torch = pytest.importorskip("torch")

PLAN_DOC = "kunshan-talent-plan-2022-2025"
# span-format questions written for this test (not dev-set questions): {doc, answer} as ncp-policy-qa writes them
SPAN_QUESTIONS = [
    ("人才科创投入的财政绩效评估由哪个部门牵头？", "市财政局"),
    ("谁负责推进人才招引汇聚计划？", "市委人才办"),
    ("昆山要建立哪两大人才计划体系？", "“昆聚英才”“昆育英才”两大人才计划体系"),
    ("培养领军人才的重点领域有哪些？", "新一代信息技术、高端装备等重点领域"),
    ("昆山要筹建什么学院？", "昆山技师学院"),
    ("市委常委会实行什么制度？", "“定期议才”制度"),
]


@pytest.fixture(scope="module")
def trained(plan_index, tmp_path_factory):
    from assistant.interfaces.cli import main

    root = tmp_path_factory.mktemp("train")
    questions = root / "questions.jsonl"
    questions.write_text("".join(json.dumps({"id": f"t{i}", "doc": PLAN_DOC, "question": q, "answer": a}, ensure_ascii=False) + "\n"
                                 for i, (q, a) in enumerate(SPAN_QUESTIONS)), encoding="utf-8")
    for model in ("reranker", "reader"):
        assert main(["train", model, "--index", str(plan_index), "--questions", str(questions), "--structure-index", str(plan_index),
                     "--generated", "8", "--folds", "2", "--depth", "2", "--trainable", "1", "--max-tokens", "64", "--epochs", "0.5",
                     "--out", str(root / "weights"), "--work", str(root / "work")]) == 0
    return root, questions


def test_training_writes_folds_split_weights_and_a_model_card(trained):
    root, _ = trained
    for model, objective in (("reranker", "rerank"), ("reader", "read")):
        work = root / "work" / model
        split = json.loads((work / "split.json").read_text(encoding="utf-8"))
        assert split["folds"] == 2 and set(split["fold"]) == {q for q, _ in SPAN_QUESTIONS}
        assert all(split["fold"][q] == fold_of(q, 2) for q, _ in SPAN_QUESTIONS)
        assert (work / "fold-0.safetensors").exists() and (work / "fold-1.safetensors").exists()
        record = json.loads((work / f"{model}.json").read_text(encoding="utf-8"))
        assert record["generated_pairs"] > 0 and record["benchmark_pairs"] > 0 and record["final"]["final_loss"] is not None
        card = (root / "weights" / f"{model}.md").read_text(encoding="utf-8")
        assert "## Cross-validation" in card and "split.json" in card
        from assistant.retrieval.pair_model import read_spec

        spec = read_spec(root / "weights" / f"{model}.safetensors")
        assert (spec.objective, spec.depth, spec.trainable, spec.max_tokens) == (objective, 2, 1, 64)


def test_the_trained_models_serve_in_the_assistant(trained, plan_index):
    """Whatever a few steps learned, the pipeline runs with both models on and its answers stay cited."""
    from assistant.answering.service import Assistant
    from assistant.settings import Settings

    root, _ = trained
    settings = Settings(reranker=root / "weights" / "reranker.safetensors", reader=root / "weights" / "reader.safetensors", reader_min_score=-1e9)
    answer = Assistant(plan_index, settings).run("博士后工作站有什么支持？")
    assert not answer.refused and answer.citations
    first = answer.answer.split("\n")[0]
    assert first.endswith("]") and any(first.rstrip("]0123456789[").strip() in c.text for c in answer.citations)


def test_cross_validated_evaluation_answers_each_question_with_its_own_fold(trained, plan_index):
    from assistant.evaluation.systems import FoldedAssistant

    root, _ = trained
    folded = FoldedAssistant(plan_index, root / "work")
    assert folded.folds == 2
    for f, assistant in enumerate(folded.assistants):
        assert assistant.settings.reranker == root / "work" / "reranker" / f"fold-{f}.safetensors"
        assert assistant.settings.reader == root / "work" / "reader" / f"fold-{f}.safetensors"
    question = SPAN_QUESTIONS[0][0]
    assert folded.run(question, []).citations
