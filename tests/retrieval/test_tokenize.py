from __future__ import annotations

import pytest

from assistant.retrieval.tokenize import Tokenizer, quoted_terms


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("苏州工业园区的人才落户条件是什么？", ["苏州工业园区"]),
        ("上海市职工基本医疗保险单位缴费比例降低多少？", ["上海市"]),
        ("北京丰台区的“零见面审批”何时开始？", ["北京", "丰台区"]),
        ("计划期内要新建多少套人才公寓？", []),  # jieba tags 新建 as a place; it does not end like one
        ("博士来昆山安家补贴具体多少钱？", ["昆山"]),  # 安家 is tagged as a place too
        ("广州的博士后有什么待遇", ["广州"]),  # a city without its 市
        ("推动企业梯次成长到上市企业", []),  # 上市 is tagged as a place too
    ],
)
def test_places_are_named_administrative_areas(tokenizer, text, places):
    assert tokenizer.places(text) == places


def test_index_tokens_add_bigrams_and_drop_stopwords(tokenizer):
    tokens = tokenizer.index_tokens("平凉市的高企")
    assert "平凉" in tokens and "凉市" in tokens and "的" not in tokens


def test_quoted_terms_come_in_order_of_first_appearance():
    # a set's order changes with each process's hash seed, and answers list these names
    text = "实施“昆聚英才”计划，推进“揭榜挂帅”，深化“昆聚英才”品牌，“双百”行动"
    assert quoted_terms([text]) == ["昆聚英才", "揭榜挂帅", "双百"]
