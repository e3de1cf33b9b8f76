"""Read a knowledge file of any supported format into plain text.

Every failure is a `LoadError` with a message meant for the person who dropped the file in.
"""
from __future__ import annotations

import codecs
import io
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")
MAX_FILE_BYTES = 50 * 1024 * 1024


class LoadError(Exception):
    pass


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file: BOM first, then UTF-8, then GB18030 (a superset of GBK/GB2312)."""
    if not data.strip():
        raise LoadError("空文件（empty file）")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(encoding))
            except UnicodeDecodeError as exc:
                raise LoadError(f"文件开头标明 {encoding} 编码，但内容不是有效的 {encoding}（not valid {encoding} despite its byte-order mark: {exc.reason}）") from exc
    if b"\x00" in data[:8192]:
        raise LoadError("文件是二进制数据，不是文本文件（binary data, not a text file: NUL bytes）")
    for encoding in ("utf-8", "gb18030"):
        try:
            return _check_text(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise LoadError("文件是二进制数据，或文本编码无法识别（binary data or an unknown text encoding）")
    return _check_text(str(best))


def _check_text(text: str) -> str:
    """Reject decodes that are really binary: many control characters or private-use garbage."""
    sample = text[:20000]
    if not sample.strip():
        raise LoadError("空文件，只有空白字符（empty file: only whitespace）")
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0xE000 <= ord(ch) <= 0xF8FF or ch == "\ufffd")
    if bad > max(8, len(sample) // 100):
        raise LoadError("文件是二进制数据，不是文本文件（binary data, not a text file: control characters）")
    return text


def load_html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    return soup.get_text("\n")


def load_docx(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for bad zips/xml
        raise LoadError(f"不是可读取的 .docx 文件（not a readable .docx file: {type(exc).__name__}）") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def load_pdf(data: bytes) -> str:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types for corrupt files
        raise LoadError(f"PDF 文件损坏或无法读取（corrupt or unreadable PDF: {type(exc).__name__}: {str(exc)[:120]}）") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise LoadError("PDF 中没有可提取的文字，可能是扫描件（the PDF has no extractable text: scanned image?）")
    return text


def load_file(path: Path) -> str:
    """Return the text of a knowledge file, or raise LoadError."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"不支持的文件类型 {suffix or '（无扩展名）'}，支持 {'、'.join(SUPPORTED_SUFFIXES)}（unsupported file type）")
    try:
        size = path.stat().st_size
        if size == 0:
            raise LoadError("空文件，0 字节（empty file: 0 bytes）")
        if size > MAX_FILE_BYTES:
            raise LoadError(f"文件过大：{size / 2**20:.1f} MB，上限 {MAX_FILE_BYTES // 2**20} MB（file too large）")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"无法读取文件（cannot read file: {exc.strerror}）") from exc
    if suffix in (".txt", ".md"):
        return decode_text(data)
    if suffix in (".html", ".htm"):
        return load_html(data)
    if suffix == ".docx":
        return load_docx(data)
    return load_pdf(data)
