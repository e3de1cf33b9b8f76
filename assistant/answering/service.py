"""The assistant: a question (and the earlier turns) in, a cited Answer out.

clean → replay the dialogue into a state → read the question into a Plan → point it at what the
dialogue is about → route it to one intent of the registry → that intent's handler answers."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

from assistant.answering import evidence, messages, state
from assistant.answering.context import Context
from assistant.answering.intent import HOSTILE, clean_question, to_simplified
from assistant.answering.knowledge import KnowledgeModel, knowledge_model
from assistant.answering.lexicon import pattern
from assistant.answering.plan import Plan, read_question
from assistant.answering.registry import route
from assistant.ingestion.departments import DepartmentRow, department_table
from assistant.models import Answer
from assistant.retrieval.hybrid import HybridSearcher
from assistant.retrieval.retriever import open_searcher
from assistant.settings import Settings, get_settings

MAX_QUESTION_CHARS = 2000
HISTORY_TURNS = 6
STATES_KEPT = 256  # dialogue states cached by (build, earlier turns): a chat asks each prefix again
RELATED = ("lead", "coop", "units", "target", "metadata", "general", "clause", "locate")


class Assistant:
    """Extractive question answering over one index. Configuration in __init__, questions in `run`."""

    def __init__(self, index_dir: Path | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self._states: OrderedDict[tuple, state.DialogueState] = OrderedDict()
        self._areas: dict[str, tuple[dict[str, str], set[str]]] = {}
        self._rows: tuple[str, dict[str, DepartmentRow]] | None = None
        self._lock = threading.Lock()

    @property
    def searcher(self) -> HybridSearcher:
        searcher = open_searcher(self.index_dir)
        searcher.reranker = self.reranker  # one per settings; baselines build their own searchers, without it
        return searcher

    @property
    def reranker(self):
        from assistant.retrieval.rerank import reranker_for

        s = self.settings
        return reranker_for(s.reranker, s.models_dir, s.rerank_k, s.rerank_weight, s.pair_threads)

    @property
    def reader(self):
        from assistant.answering.reader import reader_for

        s = self.settings
        return reader_for(s.reader, s.models_dir, s.reader_min_score, s.pair_threads)

    def departments(self) -> tuple[dict[str, str], dict[str, DepartmentRow]]:
        """Every department name and short form → canonical name; canonical name → its measures."""
        searcher = self.searcher
        km = knowledge_model(searcher.index)
        if self._rows is None or self._rows[0] != km.build:
            self._rows = (km.build, {r.name: r for r in department_table(searcher.index.clauses)})
        return km.unit_names, self._rows[1]

    def context(self) -> Context:
        searcher = self.searcher  # resolved once per question: an upload may swap the build meanwhile
        km = knowledge_model(searcher.index)
        areas, home = self._areas_of(searcher, km)
        return Context(settings=self.settings, searcher=searcher, km=km, areas=areas, home_areas=home, reader=self.reader)

    def _areas_of(self, searcher: HybridSearcher, km: KnowledgeModel) -> tuple[dict[str, str], set[str]]:
        """The areas the documents' titles and issuers name (澄川, 昆山): those of one document only, and
        that no other document's text mentions → that document (to scope a question), and all of them
        (where the knowledge base's policies are from). 上海 in one title of many notices about 上海
        names none of them."""
        build = km.build
        if build not in self._areas:
            owners: dict[str, set[str]] = {}
            for doc, meta in searcher.index.docs.items():
                for place in searcher.lexical.tokenizer.places(f"{meta.title} {meta.get('发文单位')}"):
                    for name in {place, pattern("area_suffix").sub("", place) if len(place) > 2 else place}:
                        owners.setdefault(name, set()).add(doc)
            unique = {a: next(iter(d)) for a, d in owners.items() if len(d) == 1 and len(a) >= 2}
            unique = {a: d for a, d in unique.items() if not any(a in km.doc_text(o) for o in km.docs if o != d)}
            self._areas = {build: (unique, set(owners))}
        return self._areas[build]

    # -- entry point ----------------------------------------------------------------------------
    def run(self, question: str, history: list[str] | None = None) -> Answer:
        started = time.perf_counter()
        answer = self._answer(question if isinstance(question, str) else "", [h for h in (history or []) if isinstance(h, str)])
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    def _answer(self, raw: str, history: list[str]) -> Answer:
        if not raw.strip():
            return Answer(question=raw, answer=messages.EMPTY, refused=True, intent="empty")
        if len(raw) > MAX_QUESTION_CHARS:
            return Answer(question=raw[:200], answer=messages.TOO_LONG.format(limit=MAX_QUESTION_CHARS, got=len(raw)), refused=True, intent="too_long")
        if HOSTILE.search(raw):
            return Answer(question=raw, answer=messages.HOSTILE, refused=True, intent="hostile")
        cleaned = to_simplified(clean_question(raw))
        if not pattern("wordy").search(cleaned):
            return Answer(question=raw, answer=messages.EMPTY, refused=True, intent="empty")
        ctx = self.context()
        past = [clean_question(h)[:MAX_QUESTION_CHARS] for h in history if h.strip()][-HISTORY_TURNS:]
        parts = split_compound(cleaned, lambda q: self._read(ctx, q, q))
        if len(parts) > 1:
            return self._compound(ctx, raw, parts, past)
        answer, _ = self._turn(ctx, raw, cleaned, self._state(ctx, past))
        return answer

    def _read(self, ctx: Context, raw: str, question: str) -> Plan:
        tokenizer = ctx.searcher.lexical.tokenizer
        return read_question(raw, question, ctx.km, lambda text: [w for w, _ in tokenizer.tagged(text)], ctx.areas)

    def _turn(self, ctx: Context, raw: str, question: str, before: state.DialogueState) -> tuple[Answer, Plan]:
        """One question in the state the earlier turns left: its plan, routed and answered."""
        plan = state.point(self._read(ctx, raw, to_simplified(question)), before, ctx.km)
        spec = route(plan)
        plan, spec = state.carry(plan, spec, before)
        plan = plan.model_copy(update={"intent": spec.name})
        place = None
        if spec.name not in ("hostile", "chitchat", "clarify"):
            place = evidence.unknown_place(ctx, plan.query) or evidence.foreign_area(ctx, plan.question)
        if place:
            answer = ctx.refuse(plan, messages.NOT_IN_TEXT_PLACE.format(place=place), ctx.searcher.search(plan.query, k=3), spec.name)
        else:
            answer = spec.handler.handle(ctx, plan)
        if answer.intent in RELATED and len(answer.citations) < self.settings.top_k:
            self._add_related(ctx, answer, plan.query)
        answer.resolved_question = plan.query
        if ctx.searcher.dense_error:
            answer.notice = (answer.notice + " " if answer.notice else "") + messages.DENSE_DOWN
        return answer, plan

    def _state(self, ctx: Context, past: list[str]) -> state.DialogueState:
        """The dialogue state after the earlier turns, each answered as it was (cached by prefix)."""
        current = state.DialogueState()
        for i, question in enumerate(past):
            key = (ctx.km.build, tuple(past[: i + 1]))
            with self._lock:
                cached = self._states.get(key)
            if cached is None:
                cleaned = to_simplified(clean_question(question))
                if not cleaned or HOSTILE.search(cleaned) or not pattern("wordy").search(cleaned):
                    cached = current
                else:
                    answer, plan = self._turn(ctx, question, cleaned, current)
                    cached = state.update(current, plan, answer, ctx.km)
                with self._lock:
                    self._states[key] = cached
                    while len(self._states) > STATES_KEPT:
                        self._states.popitem(last=False)
            current = cached
        return current

    def _compound(self, ctx: Context, question: str, parts: list[str], past: list[str]) -> Answer:
        """Each part answered on its own (with the parts before it as earlier turns), then joined:
        the clauses the parts' answers cite come first, renumbered, the related ones after them."""
        index = ctx.index
        draft = ctx.draft()
        answers = [self._answer(part, past + parts[:i]) for i, part in enumerate(parts)]
        numbers: list[dict[int, int]] = [{} for _ in answers]
        for used in (True, False):
            for sub, mapping in zip(answers, numbers):
                for c in sub.citations:
                    clause = index.clause(c.doc, c.clause_id)
                    if clause is None or (f"[{c.n}]" in sub.answer) != used or (not used and len(draft.citations) >= self.settings.top_k):
                        continue
                    mapping[c.n] = draft.cite(clause, c.score)
                    kept = draft.citations[mapping[c.n] - 1].quotes
                    kept.extend(q for q in c.quotes if q not in kept)
        for part, sub, mapping in zip(parts, answers, numbers):
            text = pattern("marker").sub(lambda m, mapping=mapping: f"[{mapping.get(int(m.group(1)), m.group(1))}]", sub.answer)
            draft.lines.append(f"问：{part}\n{text}")
        return Answer(
            question=question, answer="\n\n".join(draft.lines), refused=all(a.refused for a in answers), citations=draft.citations,
            intent="+".join(a.intent for a in answers), resolved_question=" ".join(a.resolved_question or p for p, a in zip(parts, answers)),
            notice=" ".join(dict.fromkeys(a.notice for a in answers if a.notice)),  # 向量检索不可用 said once, not lost
        )

    def _add_related(self, ctx: Context, answer: Answer, query: str) -> None:
        """Fill the citations up to top_k with the next best clauses, shown as related (相关条款)."""
        draft = ctx.draft()
        draft.citations = answer.citations
        for hit in ctx.ranked(query):
            if len(draft.citations) >= self.settings.top_k:
                break
            draft.cite(hit.clause, hit.score)


def split_compound(question: str, read) -> list[str]:
    """Two or three questions in one message that ask different kinds of things (依据什么会议精神？
    发文单位是谁？) as separate questions; one question in several parts (有什么行动？谁牵头？) stays
    whole: a later part that leans on the earlier one, or the same kind twice, is not split off."""
    parts = [p.strip() for p in pattern("question_end").split(question) if pattern("wordy").search(p)]
    if not 2 <= len(parts) <= 3:
        return [question]
    plans = [read(p) for p in parts]
    specs = [route(p) for p in plans]
    # 谁牵头？ needs the measure named before it; 发文单位是谁？ is about the document, which needs none
    if any(p.elliptical and s.needs_clause or s.asks_back for p, s in zip(plans, specs)) or len({s.name for s in specs}) < len(specs):
        return [question]
    return parts

