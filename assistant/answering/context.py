"""What a handler works with for one question: the searcher (resolved once), the knowledge model, the
settings, and the few shared steps of writing an answer (a draft, a refusal, the ranked clauses)."""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.answering.composer import Draft
from assistant.answering.knowledge import KnowledgeModel
from assistant.answering.plan import Plan
from assistant.models import Answer, Clause
from assistant.retrieval.hybrid import Hit, HybridSearcher
from assistant.settings import Settings

TARGET_DISCOUNT = 0.85
UNKNOWN = 0.6  # weight of a word the corpus never uses


@dataclass
class Context:
    settings: Settings
    searcher: HybridSearcher
    km: KnowledgeModel
    areas: dict[str, str] = field(default_factory=dict)  # an area named in one document's title → that document
    home_areas: set[str] = field(default_factory=set)  # every area a document's title names
    reader: object | None = None  # assistant/answering/reader.py; None: no leading span

    @property
    def index(self):
        return self.searcher.index

    def tokens(self, text: str) -> list[str]:
        return self.searcher.lexical.tokenizer.tokens(text)

    def weights(self, text: str, fallback: str = "") -> dict[str, float]:
        """IDF weights of the words of a text. A word the corpus never uses is discounted: it is as
        often a paraphrase (孩子 for 子女) as a sign the question is out of scope."""
        lexical = self.searcher.lexical
        tokens = self.tokens(text) or (self.tokens(fallback) if fallback else [])
        return {t: lexical.idf(t) * (1.0 if lexical.known(t) else UNKNOWN) for t in dict.fromkeys(tokens)}

    def read(self, question: str, hits: list[Hit]):
        """The span of the best clauses that answers the question (reader.Span), or None."""
        return self.reader.read(question, hits, self.searcher.titles) if self.reader is not None and hits else None

    def draft(self) -> Draft:
        return Draft(doc_titles={d: m.title for d, m in self.index.docs.items()})

    def clause(self, key: str) -> Clause | None:
        return self.km.clause(key)

    def refuse(self, plan: Plan, message: str, hits: list[Hit], intent: str) -> Answer:
        """A plain 'the documents don't say', with the closest clauses as 相关条款."""
        draft = self.draft()
        for hit in hits[: self.settings.top_k]:
            draft.cite(hit.clause, hit.score)
        related = "；".join(f"[{c.n}] {c.title.split(' > ')[-1]}" for c in draft.citations[:3])
        text = message + (f"\n相关条款：{related}" if related else "")
        return Answer(question=plan.raw, answer=text, refused=True, citations=draft.citations, intent=intent)

    def ranked(self, query: str, wants_target: bool = True, keep=None, keep_name: str | None = None) -> list[Hit]:
        """The top clauses to cite: the best by rank, the last slot kept for the best clause of a
        document not yet cited (measured on ncp-policy-qa: +1 point document hit@5, span recall kept).
        A question that asks for no number or goal ranks target lines lower: 博士后工作站有什么支持
        is answered by the measure, not by 新增博士后工作站 20 个."""
        k = self.settings.top_k
        hits = self.searcher.search(query, k=k * 3, keep=keep, keep_name=keep_name)
        if not wants_target:
            hits.sort(key=lambda h: -h.score * (TARGET_DISCOUNT if h.clause.kind == "target" else 1.0))
        top = hits[: max(1, k - 1)]
        seen = {h.clause.doc for h in top}
        extra = next((h for h in hits[len(top) :] if h.clause.doc not in seen), None)
        rest = [extra] if extra is not None else hits[len(top) : len(top) + 1]
        return top + rest

    def in_doc(self, plan: Plan):
        """A filter to the document the question names, when the knowledge base holds several."""
        if plan.doc is None or len(self.index.docs) < 2:
            return None, None
        doc = plan.doc
        return (lambda c: c.doc == doc), f"doc:{doc}"

    def delegate(self, name: str, plan: Plan) -> Answer:
        """Another intent's handler answers (a look-up that finds nothing becomes a general question)."""
        from assistant.answering.registry import by_name

        return by_name(name).handler.handle(self, plan.model_copy(update={"intent": name}))
