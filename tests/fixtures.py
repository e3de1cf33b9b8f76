"""Builders of real policy files in every supported format, for tests."""
from __future__ import annotations

from pathlib import Path

POLICY = (
    "关于支持青年人才来昆创业的若干措施\n"
    "一、创业扶持\n"
    "1. 对入选的青年创业项目给予场地支持。（牵头单位：市人社局；配合单位：市财政局、科技局）\n"
    "2. 提供人才公寓租赁服务。（牵头单位：市住建局；配合单位：各区镇）\n"
)


def write_docx(path: Path, text: str = POLICY) -> Path:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))
    return path


def write_pdf(path: Path, text: str = POLICY) -> Path:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    pdf.setFont("STSong-Light", 10)
    y = 800
    for line in text.splitlines():
        pdf.drawString(30, y, line)
        y -= 16
    pdf.save()
    return path


def write_html(path: Path, text: str = POLICY) -> Path:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
    path.write_text(f"<html><head><title>x</title><script>alert(1)</script></head><body>{paragraphs}</body></html>", encoding="utf-8")
    return path
