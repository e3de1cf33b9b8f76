from __future__ import annotations

import pytest
from langchain_core.documents import Document

from assistant.retrieval.retriever import PolicyRetriever, domain_words, open_searcher


def test_hybrid_finds_measures_by_paraphrase(plan_index):
    searcher = open_searcher(plan_index)
    assert searcher is open_searcher(plan_index)  # loaded once per build
    top = searcher.search("孩子上学看病", k=3)
    assert "四.(六).20" in [h.clause.clause_id for h in top]
    hit = searcher.search("博士后集聚双百行动", k=1)[0]
    assert hit.clause.clause_id == "四.(二).5" and hit.lexical > 0 and 0 < hit.similarity <= 1


def test_sentence_vectors_lift_a_clause_by_one_sentence_and_old_builds_still_search(plan_index):
    from assistant.retrieval.hybrid import HybridSearcher
    from assistant.retrieval.index import KnowledgeIndex

    searcher = open_searcher(plan_index)
    question = "租房子的人才能排队等房吗"  # paraphrases one sentence (…申请端口和轮候库) of the housing measure
    best = searcher.search(question, k=1)[0]
    assert best.clause.clause_id == "四.(六).22" and best.sentence == pytest.approx(1.0)  # that sentence is the nearest of all

    old = KnowledgeIndex.open(plan_index)
    old.manifest = old.manifest.model_copy(update={"sentence_collection": None})  # a build from before sentence vectors
    assert old.sentence_collection is None and old.sentence_search(question) == []
    hits = HybridSearcher(old, searcher.lexical, documents=searcher.documents).search(question, k=3)
    assert hits and all(h.sentence == 0 for h in hits) and any(h.dense > 0 for h in hits)


def test_keep_filter_limits_both_sides(plan_index):
    hits = open_searcher(plan_index).search("人才", k=30, keep=lambda c: bool(c.lead_units))
    assert hits and all(h.clause.lead_units for h in hits)
    assert len(hits) == 22


def test_langchain_retriever(plan_index):
    retriever = PolicyRetriever(searcher=open_searcher(plan_index), k=3)
    docs = retriever.invoke("人才租赁住房")
    assert all(isinstance(d, Document) for d in docs) and len(docs) == 3
    assert docs[0].metadata["clause_id"] == "四.(六).22"
    assert "市委人才办" in docs[0].metadata["lead_units"]


def test_domain_words_include_departments_and_programmes(plan_index):
    words = domain_words(open_searcher(plan_index).index.clauses)
    assert {"市科技局", "科技局", "昆聚英才", "揭榜挂帅"} <= set(words)


def test_partial_ranking_matches_a_full_stable_sort():
    import numpy as np

    from assistant.retrieval.hybrid import _best_first

    rng = np.random.default_rng(7)
    for scores in (rng.integers(0, 30, 5000).astype(np.float32), rng.random(5000).astype(np.float32)):
        assert [int(i) for i in _best_first(scores, 50)] == [int(i) for i in np.argsort(-scores, kind="stable")]


def test_a_dense_failure_is_reported_to_the_thread_it_happened_in(plan_index):
    import threading

    from assistant.retrieval.retriever import open_searcher

    searcher = open_searcher(plan_index)
    searcher.dense_error = "ConnectionError: server down"
    other: list = []
    worker = threading.Thread(target=lambda: other.append(searcher.dense_error))
    worker.start()
    worker.join()
    assert other == [None] and searcher.dense_error.startswith("ConnectionError")
    searcher.dense_error = None
