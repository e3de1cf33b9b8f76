"""The knowledge model: every document of a build as a tree of clauses, its unit-role table and its
metadata, with the generic operations the handlers need (look up, children, count, filter by unit and
role, intersect, membership, navigate). Built once per index build from what the parser extracted."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from assistant.answering.composer import measure_name
from assistant.answering.lexicon import pattern
from assistant.answering.matching import cjk_only, longest_common_run, trigrams
from assistant.models import Clause
from assistant.retrieval.index import KnowledgeIndex

Role = str  # "lead" | "coop" | "any"
PREFIXES = ("市委", "市")  # 市科技局 is also written 科技局; 市委人才办, 人才办


class Node(BaseModel):
    """One whole clause in its document's tree."""

    key: str
    doc: str
    clause_id: str
    label: str = Field(description="its heading, e.g. 5. 推进人才培养群英计划")
    name: str = Field(description="the heading without its numbering")
    kind: str
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    number: int | None = Field(None, description="its own marker number: 四.(六).20 → 20")
    lead: list[str] = Field(default_factory=list, description="canonical lead units")
    coop: list[str] = Field(default_factory=list, description="canonical co-operating units")


class DocFacts(BaseModel):
    """A document's metadata: its front matter or portal header, and what its own text says of itself
    (signature, dates in force, who interprets it)."""

    doc: str
    title: str
    fields: dict[str, str] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict, description="field → key of the clause that states it")


def derived_fields(title: str, fields: dict[str, str], last: Clause | None, all_text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Pure: metadata a document carries in its text rather than its header."""
    out: dict[str, str] = {}
    sources: dict[str, str] = {}
    if last is not None:
        lines = [line.strip() for line in last.text.splitlines() if line.strip()]
        dates = [line for line in lines[-3:] if pattern("signature_date").search(line)]
        issuers = [line for line in lines[-4:] if pattern("issuer_line").search(line) and line not in dates]
        if dates and "成文日期" not in fields:
            out["成文日期"] = dates[-1]
            sources["成文日期"] = last.key
        if issuers and "发文单位" not in fields:
            out["发文单位"] = "、".join(issuers)
            sources["发文单位"] = last.key
    for name, group, label in (("effective_from", 1, "施行日期"), ("effective_until", 2, "有效期至"), ("interpreter", 1, "解释单位")):
        m = pattern(name).search(all_text)
        if m and label not in fields:
            out[label] = m.group(group)
    year = pattern("doc_year").search(fields.get("文号", "")) or pattern("year").search(out.get("成文日期", fields.get("成文日期", "")))
    if year:
        out["年份"] = year.group(1)
    span = pattern("title_years").search(title)
    if span:
        out["期限"] = f"{span.group(0)}年"  # as the title writes it, so the answer quotes its source
    return out, sources


class KnowledgeModel:
    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.build = index.build.name
        self.nodes: dict[str, Node] = {}
        self.order: dict[str, list[str]] = {}  # doc → keys in reading order
        whole = [index.whole(c) for c in index.clauses if c.window == 0]
        registry = index.departments
        for c in whole:
            key = f"{c.doc}::{c.clause_id}"
            parent = c.clause_id.rsplit(".", 1)[0] if "." in c.clause_id else None
            last = c.clause_id.rsplit(".", 1)[-1]
            self.nodes[key] = Node(
                key=key, doc=c.doc, clause_id=c.clause_id, label=c.heading_path[-1] if c.heading_path else c.clause_id,
                name=measure_name(c), kind=c.kind, parent=f"{c.doc}::{parent}" if parent else None,
                number=int(last) if last.isdigit() else None,
                lead=list(dict.fromkeys(registry.resolve(u) for u in c.lead_units)),
                coop=list(dict.fromkeys(registry.resolve(u) for u in c.coop_units)),
            )
            self.order.setdefault(c.doc, []).append(key)
        for node in self.nodes.values():
            if node.parent in self.nodes:
                self.nodes[node.parent].children.append(node.key)
        self.unit_names = self._unit_names(registry.canonical)
        self.aliases = {d.name: d.aliases for d in registry.departments.values()}
        self.docs = {doc: self._facts(doc, meta.title, dict(meta.fields)) for doc, meta in index.docs.items()}
        self._texts: dict[str, str] = {}
        self._all: str | None = None
        self._label_grams: dict[str, set[str]] = {}
        for node in self.nodes.values():
            for gram in trigrams(cjk_only(node.name)):
                self._label_grams.setdefault(gram, set()).add(node.key)
        self._title_grams: dict[str, set[str]] = {}
        for doc, gram in ((d, g) for d, f in self.docs.items() for g in trigrams(cjk_only(f.title))):
            self._title_grams.setdefault(gram, set()).add(doc)

    # -- vocabulary ---------------------------------------------------------------------------
    @staticmethod
    def _unit_names(canonical: dict[str, str]) -> dict[str, str]:
        """Every unit name and unambiguous short form (科技局 for 市科技局) → its canonical name."""
        names = dict(canonical)
        short: dict[str, set[str]] = {}
        for name, owner in canonical.items():
            for prefix in PREFIXES:
                if name.startswith(prefix) and len(name) - len(prefix) >= 2 and not (prefix == "市" and name.startswith("市委")):
                    short.setdefault(name[len(prefix) :], set()).add(owner)
        names.update({s: next(iter(o)) for s, o in short.items() if len(o) == 1 and s not in names})
        return names

    def _facts(self, doc: str, title: str, fields: dict[str, str]) -> DocFacts:
        keys = self.order.get(doc, [])
        last = self.index.clause(doc, self.nodes[keys[-1]].clause_id) if keys else None
        text = " ".join(self.index.clause(doc, self.nodes[k].clause_id).text for k in keys[-3:])
        extra, sources = derived_fields(title, fields, last, text)
        return DocFacts(doc=doc, title=title, fields={**fields, **extra}, sources=sources)

    def find_units(self, text: str) -> list[str]:
        """The units a text names, longest names first and not overlapping, in the order written."""
        found: list[tuple[int, str]] = []
        taken = [False] * len(text)
        for name in sorted(self.unit_names, key=len, reverse=True):
            start = text.find(name)
            while start >= 0:
                if not any(taken[start : start + len(name)]):
                    taken[start : start + len(name)] = [True] * len(name)
                    found.append((start, self.unit_names[name]))
                start = text.find(name, start + 1)
        return list(dict.fromkeys(u for _, u in sorted(found)))

    def unit_mentions(self, text: str) -> list[str]:
        return [n for n in self.unit_names if n in text]

    def doc_text(self, doc: str) -> str:
        if doc not in self._texts:
            self._texts[doc] = " ".join(self.clause(k).text for k in self.order.get(doc, []))
        return self._texts[doc]

    def named_docs(self, text: str, minimum: int = 4) -> list[str]:
        """The documents whose title shares a run of `minimum` Chinese characters with the question (the
        only document of a knowledge base is always the one asked about)."""
        clean = cjk_only(text)
        if len(self.docs) == 1:
            return list(self.docs)
        candidates = {d for g in trigrams(clean) for d in self._title_grams.get(g, ())}
        return [d for d in candidates if longest_common_run(clean, cjk_only(self.docs[d].title)) >= minimum]

    def phrases(self, text: str, minimum: int = 3) -> list[str]:
        """The longest runs of a text that some clause contains, left to right (企业创新积分制 in
        “企业创新积分制是哪项举措提出的”)."""
        corpus = self.corpus()
        found, i = [], 0
        while i <= len(text) - minimum:
            j = i + minimum
            if text[i:j] not in corpus:
                i += 1
                continue
            while j < len(text) and text[i : j + 1] in corpus:
                j += 1
            found.append(text[i:j])
            i = j
        return found

    def corpus(self) -> str:
        if self._all is None:
            self._all = "\n".join(self.doc_text(d) for d in self.order)
        return self._all

    # -- the tree -------------------------------------------------------------------------------
    def clause(self, key: str) -> Clause | None:
        node = self.nodes.get(key)
        return self.index.clause(node.doc, node.clause_id) if node else None

    def children(self, key: str) -> list[Node]:
        node = self.nodes.get(key)
        return [self.nodes[k] for k in node.children] if node else []

    def descendants(self, key: str) -> list[Node]:
        out: list[Node] = []
        for child in self.children(key):
            out += [child, *self.descendants(child.key)]
        return out

    def leaves(self, key: str) -> list[Node]:
        """The items under a section: its children, or its grandchildren when every child is a group."""
        children = self.children(key)
        if children and all(c.children for c in children):
            return [g for c in children for g in self.children(c.key)]
        return children

    def by_number(self, number: int, within: str | None = None, doc: str | None = None) -> list[Node]:
        """Items numbered `number` (第二十条 of 主要举措 is 四.(六).20, numbered across its groups)."""
        pool = self.descendants(within) if within else [self.nodes[k] for d in ([doc] if doc else self.order) for k in self.order.get(d, [])]
        return [n for n in pool if n.number == number and n.kind in ("clause", "target")]

    def step(self, key: str, offset: int) -> Node | None:
        """The next (offset 1) or previous (-1) item of the same kind and depth in reading order:
        after 12. 集聚科创金融平台 comes 13. 开展新兴产业“强链”行动, across their groups."""
        node = self.nodes.get(key)
        if node is None:
            return None
        depth, root = node.clause_id.count("."), node.clause_id.split(".")[0]
        same = [k for k in self.order[node.doc] if self.nodes[k].clause_id.count(".") == depth and self.nodes[k].clause_id.split(".")[0] == root]
        i = same.index(key) + offset
        return self.nodes[same[i]] if 0 <= i < len(same) else None

    def link_sections(self, text: str, minimum: int = 3) -> list[tuple[Node, int]]:
        """Nodes whose heading shares a run of at least `minimum` characters with the text (六大平台 in
        “六大平台是哪几个” → (三)集聚“全链创新”六大平台), longest shared run first."""
        clean = cjk_only(text)
        candidates = {k for g in trigrams(clean) for k in self._label_grams.get(g, ())}
        scored = []
        for key in candidates:
            node = self.nodes[key]
            if node.kind in ("preamble", "metadata", "paragraph"):  # labelled with the document's title
                continue
            run = longest_common_run(clean, cjk_only(node.name))
            if run >= minimum:
                scored.append((node, run))
        scored.sort(key=lambda x: (-x[1], -len(x[0].children), x[0].clause_id.count(".")))
        return scored

    # -- the unit-role table --------------------------------------------------------------------
    def measures(self, unit: str, role: Role) -> list[Node]:
        """The measures a unit leads ("lead"), co-operates on ("coop", not those it also leads) or either."""
        out = []
        for keys in self.order.values():
            for k in keys:
                n = self.nodes[k]
                if role in ("lead", "any") and unit in n.lead or role in ("coop", "any") and unit in n.coop and unit not in n.lead:
                    out.append(n)
        return out

    def shared(self, units: Iterable[str], role: Role) -> list[Node]:
        sets = [{n.key for n in self.measures(u, role)} for u in units]
        common = set.intersection(*sets) if sets else set()
        return [n for keys in self.order.values() for k in keys if k in common for n in [self.nodes[k]]]

    def role_of(self, unit: str, key: str) -> str | None:
        node = self.nodes.get(key)
        if node is None:
            return None
        return "lead" if unit in node.lead else "coop" if unit in node.coop else None

    def ranking(self, role: Role) -> list[tuple[str, int]]:
        counts = Counter(u for n in self.nodes.values() for u in (n.lead if role == "lead" else n.coop if role == "coop" else n.lead + n.coop))
        return counts.most_common()

    def joint_leads(self) -> list[Node]:
        return [self.nodes[k] for keys in self.order.values() for k in keys if len(self.nodes[k].lead) >= 2]


_models: dict[str, KnowledgeModel] = {}
_lock = threading.Lock()
KEEP_MODELS = 8  # several knowledge bases may be open in one process (tests, evaluation)


def knowledge_model(index: KnowledgeIndex) -> KnowledgeModel:
    """One model per build, shared by every question on it."""
    key = str(index.build)
    with _lock:
        if key not in _models:
            while len(_models) >= KEEP_MODELS:
                _models.pop(next(iter(_models)))
            _models[key] = KnowledgeModel(index)
        return _models[key]
