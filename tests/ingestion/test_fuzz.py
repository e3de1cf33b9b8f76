"""Random and hostile text never crashes the parser, and its guarantees hold on it."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.ingestion import parse_document
from assistant.ingestion.departments import find_responsibility, split_units
from assistant.ingestion.loaders import LoadError, decode_text

PIECES = st.sampled_from([
    "一、", "（二）", "(三)", "1.", "2．", "（1）", "①", "第一章", "第三条", "——", "附件：", "问：", "答：", "〔牵头单位:", "；配合单位:", "〕", "(", ")", "（", "）",
    "市科技局、", "人社局", "各区镇", "。", "，", "\n", " ", "\u00a0", "\u3000", "<script>", "</p>", "---\n", "title: x\n", "\x00", "\ufeff", "政策详情", "相关活动",
])
TEXT = st.lists(st.one_of(PIECES, st.text(min_size=0, max_size=12)), max_size=80).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_parser_never_crashes_and_covers_the_text(text):
    parsed = parse_document("fuzz", text, max_chars=120, window_chars=60)
    keys = [c.key for c in parsed.clauses]
    assert len(keys) == len(set(keys))
    covered = bytearray(len(parsed.body))
    for c in parsed.clauses:
        assert c.text.strip()
        if c.kind != "metadata":
            assert parsed.body[c.start : c.end] == c.text
            covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(parsed.body))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_unit_parsing_never_crashes(text):
    leads, coops, span = find_responsibility(text)
    assert all(isinstance(u, str) and u for u in leads + coops)
    assert span is None or 0 <= span[0] < span[1] <= len(text)
    assert all(u for u in split_units(text))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_decoding_random_bytes_gives_text_or_a_clear_error(data):
    try:
        assert isinstance(decode_text(data), str)
    except LoadError as exc:
        assert str(exc)
