"""A question read into a typed Plan: what it asks for (cues and focus), what it names (units, sections,
the clause in focus), linked to the knowledge model's own vocabulary. Pure given the model."""
from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from assistant.answering.knowledge import KnowledgeModel
from assistant.answering.matching import longest_common_substring
from assistant.answering.lexicon import lexicon, pattern, words

CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
CUE_PREFIXES = ("hostile", "chitchat", "never_policy", "role.", "asks.", "target.", "ref.", "focus.", "meta.", "ordinal")


class Plan(BaseModel):
    raw: str = Field(description="the question as asked")
    question: str = Field(description="cleaned and in simplified characters")
    query: str = Field(description="what retrieval searches: the question, with the earlier subject for a follow-up")
    topic: str = Field("", description="the question without its form words and the units it names")
    own: str = Field("", description="what the topic names besides the question's form: empty for 那配合单位呢")
    own_terms: list[str] = Field(default_factory=list, description="the words of `own`")
    beyond_titles: str = Field("", description="`own` without the words of the documents' titles: what it names besides a document")
    subject: list[str] = Field(default_factory=list, description="what it asks about: its own words beyond the titles, and the units it names")
    beyond_section: str = Field("", description="its own words outside the linked section's heading and the titles")
    section_parts: bool = Field(False, description="the heading run it repeats counts parts (四大行动, 六大平台)")
    cues: set[str] = Field(default_factory=set, description="names of the cue rules the wording matches")
    intent: str = "general"
    role: str | None = Field(None, description="lead, coop or units (both)")
    units: list[str] = Field(default_factory=list, description="canonical names of the units named")
    focus: list[str] = Field(default_factory=list, description="kinds of fact asked for: money, date, procedure …")
    meta_fields: list[str] = Field(default_factory=list)
    section: str | None = Field(None, description="key of the section the question names by its heading")
    section_run: int = 0
    doc: str | None = Field(None, description="the document the question names (by its area or title)")
    clause: str | None = Field(None, description="key of the clause in focus: named through the dialogue")
    items: list[str] = Field(default_factory=list, description="keys the question picks among (其中 …)")
    ordinal: int | None = None
    step: int = Field(0, description="+1 下一项, -1 上一项")
    count_asked: int | None = Field(None, description="哪三个 → 3")
    elliptical: bool = Field(False, description="names no subject of its own (那配合单位有哪些？/ 独角兽培育企业呢？)")
    refers_back: bool = Field(False, description="points at something earlier (它, 其中, 下一项, 那…呢)")
    carried: bool = Field(False, description="took its subject or kind from the previous turn")

    def has(self, *names: str) -> bool:
        return any(n in self.cues for n in names)


def chinese_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + CN_DIGITS.get(text[1:], 0)
    if len(text) == 1:
        return CN_DIGITS.get(text)
    if len(text) in (2, 3) and text[1] == "十":
        return CN_DIGITS.get(text[0], 0) * 10 + (CN_DIGITS.get(text[2], 0) if len(text) == 3 else 0)
    return None


def topic_of(question: str, names: list[str], segment: Callable[[str], list[str]]) -> str:
    """The question without its form words and the unit names it contains, as space-separated words."""
    text = pattern("leading_pointer").sub("", question)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    form = words("form_words")
    return " ".join(w for w in segment(text) if w.strip() and w not in form and not pattern("punctuation_only").search(w))


def own_words(question: str, names: list[str], cues: set[str], segment: Callable[[str], list[str]]) -> list[str]:
    """The words of the question outside every cue it matches, its unit names and years: 那到2025年呢、
    怎么申请？、要交哪些材料 name nothing of their own; 申请购房补贴还需要额外交什么 names 购房补贴."""
    masked = list(question)
    for name in cues:
        for m in lexicon()[name].finditer(question):
            masked[m.start() : m.end()] = " " * (m.end() - m.start())
    text = "".join(masked)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    topic = topic_of(text, [], segment)
    return [w for w in topic.split() if len(w) >= 2 and not pattern("year").fullmatch(w + "年") and not w.isdigit()]


def asked_role(question: str, cues: set[str]) -> str | None:
    """lead, coop or both ("units"); with both words the one nearest the end is asked about
    (除了财政局牵头，还有哪些单位配合？ asks for co-operators)."""
    named = cues & {"role.lead", "role.coop", "role.named"}
    if "role.both" in cues and named:
        return "units"
    if "role.named.lead" in cues and "role.coop" not in cues:
        return "lead"
    if "role.named.coop" in cues and "role.lead" not in cues:
        return "coop"
    last = {role: max((m.end() for m in lexicon()[f"role.{role}"].finditer(question)), default=-1) for role in ("lead", "coop")}
    if last["lead"] < 0 and last["coop"] < 0:
        return None
    return "coop" if last["coop"] > last["lead"] else "lead"


def read_question(raw: str, question: str, km: KnowledgeModel, segment: Callable[[str], list[str]], areas: dict[str, str]) -> Plan:
    """The plan of a question on its own (no dialogue yet)."""
    lex = lexicon()
    linked = next(((n, run) for n, run in km.link_sections(question) if n.children), None)
    run = longest_common_substring(question, linked[0].name) if linked else ""
    # a heading's own words ask nothing: 协同 in “协同创新”的三大合作 is not a role
    wording = question.replace(run, " " * len(run)) if len(run) >= 2 else question
    cues = {name for prefix in CUE_PREFIXES for name in lex.matching(prefix, wording)}
    mentions = km.unit_mentions(question)
    ordinal = lex["ordinal"].search(question)
    counted = pattern("count_asked").search(question)
    plan = Plan(
        raw=raw, question=question, query=question, topic=topic_of(question, mentions, segment), cues=cues, role=asked_role(wording, cues),
        units=km.find_units(question), focus=[n.removeprefix("focus.") for n in lex.matching("focus.", wording)],
        meta_fields=[n.removeprefix("meta.") for n in lex.matching("meta.", wording)],
        section=linked[0].key if linked else None, section_run=linked[1] if linked else 0,
        doc=next((d for area, d in areas.items() if area in question), None),
        ordinal=chinese_number(ordinal.group(1)) if ordinal else None, step=1 if "ref.next" in cues else -1 if "ref.prev" in cues else 0,
        count_asked=chinese_number(counted.group(1)) if counted else None,
        section_parts=any(m.group(0) in question for m in pattern("parts_heading").finditer(linked[0].name)) if linked else False,
    )
    plan.own_terms = own_words(question, mentions, cues, segment)
    plan.own = "".join(plan.own_terms)
    # the words of the documents it names say which document, not what about (all titles would, in a
    # knowledge base of hundreds of policies, swallow every word of the question)
    titles = " ".join(km.docs[d].title for d in dict.fromkeys(km.named_docs(question) + ([plan.doc] if plan.doc else [])))
    plan.beyond_titles = "".join(w for w in plan.own_terms if w not in titles)
    plan.subject = [w for w in plan.own_terms if w not in titles] + mentions
    if linked:
        plan.beyond_section = "".join(w for w in plan.own_terms if w not in titles and w not in linked[0].name)
    plan.elliptical = is_elliptical(plan)
    plan.refers_back = plan.elliptical or plan.has("ref.anaphora", "ref.partitive", "ref.next", "ref.prev", "ordinal.bare")
    return plan


def is_elliptical(plan: Plan) -> bool:
    """A follow-up that only makes sense with the previous turn (那配合单位有哪些？/ 独角兽培育企业呢？)."""
    if len(plan.own) < 2 and not plan.section:  # units are what it checks, not what it is about
        return True
    return plan.has("ref.ellipsis") and len(plan.question) <= 16
