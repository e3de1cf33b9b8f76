from __future__ import annotations

import codecs

import pytest

from assistant.ingestion import LoadError, load_file, parse_file
from tests.fixtures import POLICY, write_docx, write_html, write_pdf


def test_gbk_file(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(POLICY.encode("gbk"))
    parsed = parse_file(path)
    assert parsed.meta.title == "关于支持青年人才来昆创业的若干措施"
    assert parsed.clauses[-1].lead_units == ["市住建局"]


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + POLICY.encode("utf-16-le"))
    assert load_file(path).strip() == POLICY.strip()


def test_utf8_bom_markdown(tmp_path):
    path = tmp_path / "bom.md"
    path.write_bytes(codecs.BOM_UTF8 + ("---\ntitle: 测试政策\n文号: 昆政发〔2023〕1号\n---\n" + POLICY).encode("utf-8"))
    parsed = parse_file(path)
    assert parsed.meta.title == "测试政策" and parsed.meta.fields["文号"] == "昆政发〔2023〕1号"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\n ", "empty"),
        ("binary.txt", bytes(range(256)) * 40, "binary"),
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", "PDF"),
        ("corrupt.docx", b"PK\x03\x04 not really a zip", "docx"),
        ("notes.xlsx", b"whatever", "unsupported"),
    ],
)
def test_bad_files_get_a_clear_message(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=message):
        load_file(path)


def test_docx_pdf_html(tmp_path):
    for path in (write_docx(tmp_path / "p.docx"), write_pdf(tmp_path / "p.pdf"), write_html(tmp_path / "p.html")):
        parsed = parse_file(path)
        units = {c.clause_id: (c.lead_units, c.coop_units) for c in parsed.clauses}
        assert units["一.1"] == (["市人社局"], ["市财政局", "市科技局"]), path.suffix
        assert "alert" not in parsed.body
