"""Text normalisation, paragraph segmentation and sentence splitting (pure functions)."""
from __future__ import annotations

import re
import unicodedata

_SPACE_LIKE = re.compile(r"[\u00a0\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff\t\f\v]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CJK = r"\u3400-\u9fff\uf900-\ufaff"
# characters after which a run of whitespace in Chinese text is a layout break, not a word gap
_CJK_OR_PUNCT = re.compile(rf"[{CJK}\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\u2014\u2026\u201c\u201d\u2018\u2019]")


def normalize_text(text: str) -> str:
    """Unify newlines and exotic spaces, strip each line, drop blank lines. Characters are otherwise kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _SPACE_LIKE.sub(" ", text))
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def is_cjkish(ch: str) -> bool:
    return bool(_CJK_OR_PUNCT.match(ch))


def segment_spans(body: str, starts_block: "re.Pattern[str] | None" = None) -> list[tuple[int, int]]:
    """Split the body into paragraph-like segments, returned as (start, end) offsets.

    Lines always break. Inside a line (documents scraped into one line use spaces as paragraph
    breaks) a whitespace run breaks when it stands between two Chinese characters or punctuation,
    or when what follows starts a numbered block (`starts_block`).
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in body.split("\n"):
        line_start = pos
        pos += len(line) + 1
        seg_start = line_start
        for m in re.finditer(r" +", line):
            a, b = m.start(), m.end()
            if a == 0 or b >= len(line):
                continue
            before, after = line[a - 1], line[b]
            breaks = is_cjkish(before) and is_cjkish(after)
            if not breaks and starts_block is not None and before in "。；;：:！？!?）)〕】":
                breaks = bool(starts_block.match(line, b))
            if breaks:
                spans.append((seg_start, line_start + a))
                seg_start = line_start + b
        spans.append((seg_start, line_start + len(line)))
    return [(a, b) for a, b in spans if b > a]


_SENTENCE_END = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)]*|\n|$)")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, shifted by `offset`; whitespace-only pieces dropped."""
    out: list[tuple[int, int]] = []
    for m in _SENTENCE_END.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a + offset, b + offset))
    return out


def pack_windows(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Group consecutive sentences of `text` into windows of about `max_chars`; over-long sentences
    are cut at commas, and failing that, at `max_chars`. Windows together cover every sentence."""
    pieces: list[tuple[int, int]] = []
    for a, b in split_sentences(text):
        while b - a > max_chars:
            chunk = text[a : a + max_chars]
            cut = max(chunk.rfind("，"), chunk.rfind(","), chunk.rfind("、"), chunk.rfind(" "))
            cut = cut + 1 if cut > max_chars // 3 else max_chars
            pieces.append((a, a + cut))
            a += cut
        pieces.append((a, b))
    windows: list[tuple[int, int]] = []
    for a, b in pieces:
        if windows and b - windows[-1][0] <= max_chars:
            windows[-1] = (windows[-1][0], b)
        else:
            windows.append((a, b))
    return windows


def fold(text: str) -> str:
    """A comparison form: NFKC, no whitespace. Used to match spans and names, never to display."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
