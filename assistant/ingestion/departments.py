"""Responsible units (牵头单位 / 配合单位) of a measure, and one canonical name per department."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from assistant.models import Clause

LEAD_LABELS = ("牵头单位", "责任单位", "牵头部门", "责任部门", "主办单位")
COOP_LABELS = ("配合单位", "参与单位", "协办单位", "配合部门", "协同单位")
_LABEL_RE = re.compile(rf"({'|'.join(LEAD_LABELS + COOP_LABELS)})\s*[:：]")
_OPEN, _CLOSE = "〔(（[【［", "〕)）]】］"
# Names that are complete on their own: the 市/市委 of the previous name does not carry into them.
_SELF_CONTAINED = re.compile(r"^(市(?!场)|县|区|镇|省|团|各|昆山|苏州|中共|共青团|国家|全市|人民|驻)")


def find_responsibility(text: str) -> tuple[list[str], list[str], tuple[int, int] | None]:
    """Lead and co-operating units named in a clause, as written (prefixes expanded), and the span
    of the bracket (or trailing phrase) that names them."""
    m = _LABEL_RE.search(text)
    if not m:
        return [], [], None
    start, end = _enclosing_bracket(text, m.start())
    inner = text[start + 1 : end - 1] if text[start] in _OPEN else text[start:end]
    leads: list[str] = []
    coops: list[str] = []
    labels = list(_LABEL_RE.finditer(inner))
    # 责任单位 is the lead on its own, but the co-operating units beside a 牵头单位
    has_lead_label = any(k.group(1) in ("牵头单位", "牵头部门") for k in labels)
    for k, nxt in zip(labels, labels[1:] + [None]):
        part = inner[k.end() : nxt.start() if nxt else len(inner)].strip(" ;；。")
        is_lead = k.group(1) in LEAD_LABELS and not (has_lead_label and k.group(1).startswith("责任"))
        target = leads if is_lead else coops
        target.extend(split_units(part))
    return leads, coops, (start, end)


def _enclosing_bracket(text: str, pos: int) -> tuple[int, int]:
    """The bracket pair around `pos`, nesting-aware; without one, from `pos` to the sentence end."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        ch = text[i]
        if ch in _CLOSE:
            depth += 1
        elif ch in _OPEN:
            if depth == 0:
                close = _matching_close(text, i)
                if close is not None:
                    return i, close
                break
            depth -= 1
    tail = re.search(r"[。\n]", text[pos:])
    return pos, pos + tail.start() if tail else len(text)


def _matching_close(text: str, open_pos: int) -> int | None:
    depth = 0
    for i in range(open_pos, len(text)):
        if text[i] in _OPEN:
            depth += 1
        elif text[i] in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _split_top_level(text: str, seps: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if ch in seps and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _normalize_brackets(name: str) -> str:
    return name.replace("（", "(").replace("）", ")").replace(" ", "")


def split_units(text: str) -> list[str]:
    """`市教育局、科技局,各区镇` → [市教育局, 市科技局, 各区镇]: the 市/市委 prefix carries over."""
    units: list[str] = []
    prefix = ""
    for raw in _split_top_level(text, "、，,;；"):
        name = _normalize_brackets(raw)
        if name.startswith("市委"):
            prefix = "市委"
        elif name.startswith("市") and not name.startswith("市场"):  # 市场监管局 is not 市 + 场监管局
            prefix = "市"
        elif prefix and not _SELF_CONTAINED.match(name):
            name = prefix + name
        units.append(name)
    return units


def alias_parts(name: str) -> list[str]:
    """`市委组织部(人才办)` → [市委组织部, 市委人才办]: a bracketed name is another name of the same unit."""
    m = re.match(r"^(.+?)\((.+)\)$", name)
    if not m:
        return []
    outer, inner = m.group(1), m.group(2)
    prefix = "市委" if outer.startswith("市委") else "市" if outer.startswith("市") else ""
    if prefix and not _SELF_CONTAINED.match(inner):
        inner = prefix + inner
    return [outer, inner]


class Department(BaseModel):
    name: str
    aliases: list[str] = Field(default_factory=list)


class DepartmentRegistry(BaseModel):
    """Canonical names: names linked by the bracket rule form one department, named by its most
    frequent form in the knowledge base."""

    canonical: dict[str, str] = Field(default_factory=dict, description="any known name → canonical name")
    departments: dict[str, Department] = Field(default_factory=dict)

    @classmethod
    def build(cls, mentions: Iterable[str]) -> "DepartmentRegistry":
        counts = Counter(mentions)
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for name in counts:
            find(name)
            for alias in alias_parts(name):
                parent[find(alias)] = find(name)
        groups: dict[str, list[str]] = {}
        for name in parent:
            groups.setdefault(find(name), []).append(name)
        registry = cls()
        for members in groups.values():
            best = max(members, key=lambda n: (counts.get(n, 0), len(n)))
            registry.departments[best] = Department(name=best, aliases=sorted(m for m in members if m != best))
            for member in members:
                registry.canonical[member] = best
        return registry

    def resolve(self, name: str) -> str:
        name = _normalize_brackets(name)
        return self.canonical.get(name, name)


class MeasureRef(BaseModel):
    doc: str
    clause_id: str
    title: str


class DepartmentRow(BaseModel):
    name: str
    aliases: list[str] = Field(default_factory=list)
    leads: list[MeasureRef] = Field(default_factory=list)
    cooperates: list[MeasureRef] = Field(default_factory=list)


def department_table(clauses: Iterable["Clause"]) -> list[DepartmentRow]:
    """Every canonical department with the measures it leads and those it co-operates on."""
    whole = [c for c in clauses if c.window == 0 and (c.lead_units or c.coop_units)]
    registry = DepartmentRegistry.build(u for c in whole for u in c.lead_units + c.coop_units)
    rows = {name: DepartmentRow(name=name, aliases=dep.aliases) for name, dep in registry.departments.items()}
    for c in whole:
        ref = MeasureRef(doc=c.doc, clause_id=c.clause_id, title=c.title)
        for unit in dict.fromkeys(registry.resolve(u) for u in c.lead_units):
            rows[unit].leads.append(ref)
        for unit in dict.fromkeys(registry.resolve(u) for u in c.coop_units):
            if ref not in rows[unit].leads:
                rows[unit].cooperates.append(ref)
    return sorted(rows.values(), key=lambda r: (-len(r.leads), -len(r.cooperates), r.name))
