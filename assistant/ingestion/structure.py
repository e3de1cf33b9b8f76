"""Policy text → clauses, following the document's own numbering (pure functions).

Chinese government documents number their parts with a small set of markers (一、 （一） 1. （1）
① 第X章 第X条 ——). Their nesting order varies between documents, so levels are not fixed: a
marker type seen before closes everything opened after it (it is a sibling), a new type opens a
child. Text before the first marker is the preamble; a document without markers is cut into
paragraph windows under its title.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.ingestion.departments import find_responsibility
from assistant.ingestion.text import pack_windows, segment_spans
from assistant.models import Clause, ClauseKind

CN_NUM = "一二三四五六七八九十百零〇两"
MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"^第[{CN_NUM}\d]+章")),
    ("section", re.compile(rf"^第[{CN_NUM}\d]+节")),
    ("article", re.compile(rf"^第[{CN_NUM}\d]+条")),
    ("attachment", re.compile(r"^附件\s*\d*\s*[:：]")),
    ("cn", re.compile(rf"^[{CN_NUM}]+\s*[、．.]")),
    ("cn_paren", re.compile(rf"^[（(]\s*[{CN_NUM}]+\s*[）)]")),
    ("num", re.compile(r"^\d{1,2}\s*[、．.](?!\d)")),
    ("num_paren", re.compile(r"^[（(]\s*\d{1,2}\s*[）)]")),
    ("circled", re.compile(r"^[\u2460-\u2473]")),
    ("dash", re.compile(r"^——(?=\S)")),
    ("question", re.compile(r"^(?:\d{1,3}\s*[、.．]\s*)?(?:问|Q)\s*\d*\s*[:：]")),
]
BLOCK_START = re.compile("|".join(p.pattern.lstrip("^") for _, p in MARKERS))
LABEL_MAX = 40
SECTION_CHARS = 1200  # a citable unit of unnumbered text: long enough to keep a passage's context
_LABEL_END = re.compile(r"[。；;，,：:！？!?]")


def match_marker(segment: str) -> tuple[str, str] | None:
    """(marker type, marker text) when a segment starts a numbered block."""
    for kind, pattern in MARKERS:
        m = pattern.match(segment)
        if m:
            if kind == "cn" and re.match(rf"^[{CN_NUM}]+\s*[.．]\d", segment):
                continue  # "一.5倍" style numbers are not headings
            return kind, m.group(0)
    return None


def marker_id(kind: str, marker: str, ordinal: int) -> str:
    """Readable id part: 四, (二), 5, (1), ①, 第三条, —2, 问4, 附件."""
    core = re.sub(r"[\s、．.:：（）()]", "", marker)
    if kind in ("cn_paren", "num_paren"):
        return f"({core})"
    if kind == "dash":
        return f"—{ordinal}"
    if kind == "question":
        return f"问{ordinal}"
    if kind == "attachment":
        return core or "附件"
    return core


def heading_label(segment: str) -> str:
    """The heading part of a segment: up to the first sentence or clause break, shortened."""
    m = _LABEL_END.search(segment, 2)
    label = segment[: m.start()] if m else segment
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"


def pack_sections(body: str, max_chars: int) -> list[tuple[int, int]]:
    """Consecutive paragraphs grouped into sections of at most `max_chars` (a longer paragraph is
    cut at sentence ends)."""
    pieces: list[tuple[int, int]] = []
    for a, b in segment_spans(body):
        if b - a > max_chars:
            pieces += [(a + x, a + y) for x, y in pack_windows(body[a:b], max_chars)]
        else:
            pieces.append((a, b))
    sections: list[tuple[int, int]] = []
    for a, b in pieces:
        if sections and b - sections[-1][0] <= max_chars:
            sections[-1] = (sections[-1][0], b)
        else:
            sections.append((a, b))
    return sections


@dataclass
class _Node:
    kind: str
    ident: str
    label: str
    parent: "_Node | None"
    start: int
    end: int
    children: list["_Node"] = field(default_factory=list)

    def path_ids(self) -> list[str]:
        node, ids = self, []
        while node is not None and node.kind != "root":
            ids.append(node.ident)
            node = node.parent
        return ids[::-1]

    def path_labels(self) -> list[str]:
        node, labels = self, []
        while node is not None and node.kind != "root":
            labels.append(node.label)
            node = node.parent
        return labels[::-1]


def build_tree(body: str) -> tuple[_Node, list[_Node]]:
    """Segment the body and attach each segment to a node; returns the root and nodes in order."""
    root = _Node("root", "", "", None, 0, 0)
    nodes: list[_Node] = []
    current = root
    open_kinds: list[_Node] = []  # the chain of open nodes, outermost first
    preamble: _Node | None = None
    for start, end in segment_spans(body, BLOCK_START):
        segment = body[start:end]
        found = match_marker(segment)
        if found is None:
            if current is root:
                if preamble is None:
                    preamble = _Node("preamble", "序言", "序言", root, start, end)
                    root.children.append(preamble)
                    nodes.append(preamble)
                preamble.end = end
            else:
                current.end = end
            continue
        kind, marker = found
        if kind == "attachment":
            open_kinds = []
        else:
            for i, node in enumerate(open_kinds):
                if node.kind == kind:
                    open_kinds = open_kinds[:i]
                    break
        parent = open_kinds[-1] if open_kinds else root
        ordinal = sum(1 for c in parent.children if c.kind == kind) + 1
        node = _Node(kind, marker_id(kind, marker, ordinal), heading_label(segment), parent, start, end)
        taken = {c.ident for c in parent.children}
        if node.ident in taken:  # numbering glitch in the source: keep ids unique and stable
            n = 2
            while f"{node.ident}~{n}" in taken:
                n += 1
            node.ident = f"{node.ident}~{n}"
        parent.children.append(node)
        nodes.append(node)
        open_kinds.append(node)
        current = node
    return root, nodes


def _clause_kind(node: _Node) -> ClauseKind:
    if node.kind in ("preamble", "paragraph"):
        return node.kind
    if node.kind == "attachment":
        return "attachment"
    if node.kind == "dash" and any("目标" in label for label in node.path_labels()[:-1]):
        return "target"
    if node.children and node.end - node.start <= len(node.label) + 2:
        return "heading"
    return "clause"


def parse_clauses(doc: str, title: str, body: str, max_chars: int = 450, window_chars: int = 300) -> list[Clause]:
    """All clauses of one document body, in reading order; long clauses become sentence windows."""
    root, nodes = build_tree(body)
    structured = any(n.kind != "preamble" for n in nodes)
    clauses: list[Clause] = []
    if not structured:
        # news-style text: sections of whole paragraphs under the title, windowed below like clauses
        nodes = [
            _Node("paragraph", f"段{i}", title, root, a, b) for i, (a, b) in enumerate(pack_sections(body, SECTION_CHARS), start=1)
        ]
    for node in nodes:
        text = body[node.start : node.end]
        leads, coops, _ = find_responsibility(text)
        base = dict(
            doc=doc,
            clause_id=".".join(node.path_ids()),
            heading_path=[title] if node.kind in ("preamble", "paragraph") else node.path_labels(),
            kind=_clause_kind(node),
            lead_units=leads,
            coop_units=coops,
        )
        if len(text) <= max_chars:
            clauses.append(Clause(text=text, start=node.start, end=node.end, **base))
            continue
        spans = pack_windows(text, window_chars)
        for i, (a, b) in enumerate(spans):
            clauses.append(Clause(text=text[a:b], start=node.start + a, end=node.start + b, window=i, windows=len(spans), **base))
    return clauses
