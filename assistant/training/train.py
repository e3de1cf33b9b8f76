"""Training the reranker (a relevance logit per pair, ranked against the question's other pairs) and the
reader (start/end logits over the passage; the first token stands for "no answer here") on this CPU.

The lower layers are frozen, so their output for every pair is computed once and cached (fp16); an
epoch then costs only the top `trainable` layers, forward and backward. One cache serves every fold of a
cross-validation."""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from assistant.retrieval.pair_model import encode_pairs
from assistant.training.data import PairExample


class TrainConfig(BaseModel):
    objective: Literal["rerank", "read"]
    depth: int = Field(12, description="encoder layers used (the first `depth` of e5's 12)")
    trainable: int = Field(2, description="top layers trained; the rest stay as e5 has them")
    max_tokens: int = Field(256, description="question + passage, truncated on the passage side")
    epochs: float = 2.0
    lr: float = 1e-4
    head_lr: float = 1e-3
    batch_pairs: int = 32
    read_negatives: int = Field(2, description="no-answer passages per question for the reader (teaches it to abstain)")
    max_answer_tokens: int = 96
    seed: int = 13
    threads: int = 2


@dataclass
class Features:
    ids: list[np.ndarray]
    starts: np.ndarray  # token of the answer's first character (0: no answer)
    ends: np.ndarray
    labels: np.ndarray
    groups: list[str]
    offsets: list[list[tuple[int, int]]]  # per token, character offsets in the passage (-1 outside it)


def featurize(examples: list[PairExample], tokenizer, max_tokens: int) -> Features:
    ids, starts, ends, offsets_all = [], [], [], []
    for ex in examples:
        (tokens, offsets), = encode_pairs(tokenizer, ex.question, [ex.passage], max_tokens)
        tokens = np.asarray(tokens, dtype=np.int64)
        start = end = 0
        if ex.span is not None:
            a, b = ex.span
            inside = [i for i, (x, y) in enumerate(offsets) if x >= 0 and y > a and x < b]
            if inside:
                start, end = inside[0], inside[-1]
        ids.append(tokens)
        starts.append(start)
        ends.append(end)
        offsets_all.append(offsets)
    return Features(ids, np.array(starts), np.array(ends), np.array([e.label for e in examples]), [e.group for e in examples], offsets_all)


def _pad(rows: list[np.ndarray], pad: int = 1):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.from_numpy(r)
        mask[i, : len(r)] = 1
    return ids, mask


def lower_cache(model, features: Features, progress: Callable[[int, int], None] | None = None, batch_tokens: int = 4096) -> list:
    """The frozen layers' output for every pair (fp16), computed once, in batches of similar length."""
    import torch

    order = sorted(range(len(features.ids)), key=lambda i: len(features.ids[i]))
    cache: list = [None] * len(order)
    done = 0
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and len(features.ids[order[j]]) * (j - i + 1) <= batch_tokens:
            j += 1
        j = max(j, i + 1)
        batch = order[i:j]
        ids, mask = _pad([features.ids[k] for k in batch])
        hidden = model.forward_lower(ids, mask)
        for row, k in enumerate(batch):
            cache[k] = hidden[row, : len(features.ids[k])].to(torch.float16).clone()
        done += len(batch)
        if progress:
            progress(done, len(order))
        i = j
    return cache


def _stack(cache: list, rows: list[int]):
    import torch

    width = max(cache[k].shape[0] for k in rows)
    hidden = torch.zeros((len(rows), width, cache[rows[0]].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, k in enumerate(rows):
        n = cache[k].shape[0]
        hidden[i, :n] = cache[k].float()
        mask[i, :n] = 1
    return hidden, mask


def _batches(config: TrainConfig, features: Features, rows: list[int], rng: random.Random) -> list[list[int]]:
    """Rerank: whole question groups per batch (their pairs are ranked together). Read: the answer
    passages and a few no-answer ones per question, shuffled."""
    groups: dict[str, list[int]] = {}
    for k in rows:
        groups.setdefault(features.groups[k], []).append(k)
    units = list(groups.values())
    if config.objective == "read":
        units = [[k] for g in units for k in [x for x in g if features.labels[x] and features.starts[x] > 0]
                 + [x for x in g if not features.labels[x]][: config.read_negatives]]
    rng.shuffle(units)
    out, current = [], []
    for unit in units:
        if current and len(current) + len(unit) > config.batch_pairs:
            out.append(current)
            current = []
        current = current + unit
    if current:
        out.append(current)
    return out


def _loss(config: TrainConfig, features: Features, batch: list[int], rank, span):
    import torch
    from torch.nn import functional as F

    if config.objective == "rerank":
        losses = []
        position = {k: i for i, k in enumerate(batch)}
        groups: dict[str, list[int]] = {}
        for k in batch:
            groups.setdefault(features.groups[k], []).append(position[k])
        for members in groups.values():
            logits = rank[members]
            positive = torch.tensor([bool(features.labels[batch[m]]) for m in members])
            if positive.all() or not positive.any():
                continue
            losses.append(torch.logsumexp(logits, 0) - torch.logsumexp(logits[positive], 0))
        return torch.stack(losses).mean() if losses else None
    starts = torch.tensor([int(features.starts[k]) for k in batch])
    ends = torch.tensor([int(features.ends[k]) for k in batch])
    return (F.cross_entropy(span[..., 0], starts) + F.cross_entropy(span[..., 1], ends)) / 2


def train(
    config: TrainConfig, model, features: Features, cache: list, rows: list[int],
    progress: Callable[[int, int, float], None] | None = None,
) -> dict:
    """Trains `model`'s top layers and head on `rows` of the features; returns a log of the run."""
    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    head = model.rank if config.objective == "rerank" else model.span
    layer_params = [p for layer in model.layer[model.depth - model.trainable :] for p in layer.parameters()]
    optimizer = torch.optim.AdamW([{"params": layer_params, "lr": config.lr}, {"params": head.parameters(), "lr": config.head_lr}], weight_decay=0.01)
    per_epoch = len(_batches(config, features, rows, random.Random(0)))
    total = max(1, math.ceil(per_epoch * config.epochs))
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))
    model.train()
    step, losses, started = 0, [], time.perf_counter()
    while step < total:
        for batch in _batches(config, features, rows, rng):
            if step >= total:
                break
            hidden, mask = _stack(cache, batch)
            rank, span = model.forward_upper(hidden, mask)
            loss = _loss(config, features, batch, rank, span)
            if loss is not None:
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(layer_params, 1.0)
                optimizer.step()
                losses.append(float(loss.detach()))
            schedule.step()
            step += 1
            if progress:
                progress(step, total, float(np.mean(losses[-20:])) if losses else 0.0)
    model.eval()
    return {"steps": total, "seconds": round(time.perf_counter() - started, 1), "final_loss": float(np.mean(losses[-50:])) if losses else None}


def predict(model, features: Features, cache: list, rows: list[int], batch_pairs: int = 64):
    """(relevance logits, start/end logits per row) for `rows`, in that order."""
    import torch

    ranks, spans = [], []
    with torch.no_grad():
        for i in range(0, len(rows), batch_pairs):
            batch = rows[i : i + batch_pairs]
            hidden, mask = _stack(cache, batch)
            rank, span = model.forward_upper(hidden, mask)
            ranks += rank.tolist()
            spans += [span[j, : len(features.ids[k])].numpy() for j, k in enumerate(batch)]
    return np.array(ranks), spans


def save_weights(model, config: TrainConfig, path) -> None:
    """The trained layers and this objective's head, with the spec the server needs to rebuild the graph."""
    from safetensors.numpy import save_file

    from assistant.retrieval.pair_model import PairSpec

    head = "rank" if config.objective == "rerank" else "span"
    spec = PairSpec(objective=config.objective, depth=model.depth, trainable=model.trainable, max_tokens=config.max_tokens,
                    max_answer_tokens=config.max_answer_tokens)
    tensors = {k: np.ascontiguousarray(v.astype(np.float16 if k.startswith("encoder.") else np.float32)) for k, v in model.trained_state((head,)).items()}
    save_file(tensors, str(path), metadata={"spec": spec.model_dump_json()})
