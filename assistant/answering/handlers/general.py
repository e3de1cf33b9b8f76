"""Any other question: hybrid retrieval, then the sentences that answer it, each cited. A question
asking for a kind of fact (an amount, a date, how to apply …) is answered by the clause that says
that kind of thing about its subject, or refused plainly with the closest clauses."""
from __future__ import annotations

from assistant.answering import evidence, messages
from assistant.answering.lexicon import lexicon
from assistant.answering.composer import pick_sentences, sentences_of
from assistant.answering.plan import Plan
from assistant.models import Answer
from assistant.retrieval.hybrid import Hit

QUOTE_WHOLE = 220  # a best clause this short is quoted whole: it is the answer, and its context matters
EVIDENCE_POOL = 8  # clauses searched for the kind of fact asked for
STRICT = evidence.SAID_OF_SUBJECT | evidence.SAID_OF_DOCUMENT
WHOLE_KINDS = ("clause", "target", "preamble", "paragraph")


def applies(plan: Plan) -> bool:
    return True


def focus_score(plan: Plan, text: str, subject: dict[str, float], synonyms: dict[str, list[str]], document: str = "") -> tuple[int, float, int]:
    """How well a text says every kind of fact asked for: (2 in the sentences naming the subject, 1
    where it may be said apart from it — dates, contacts, or what a document says once for all its
    measures when the document names the subject —, 0 not at all; the best share of the subject in
    an evidencing sentence; how many pieces of evidence)."""
    tier, best, count = 2, 0.0, 0
    for focus in plan.focus:
        pattern = lexicon()[f"evidence.{focus}"]
        strict = [s for s in evidence.sentences(evidence.about_subject(text, subject, synonyms)) if pattern.search(s)]
        if strict:
            best = max(best, max(evidence.subject_share(s, subject, synonyms) for s in strict))
            count += sum(len(pattern.findall(s)) for s in strict)
            continue
        loose = evidence.region(focus, text, subject, synonyms) if focus not in evidence.SAID_OF_DOCUMENT else (
            text if evidence.about_subject(document or text, subject, synonyms) else "")
        if focus in evidence.SAID_OF_SUBJECT or not pattern.search(loose):
            return 0, 0.0, 0
        tier, count = 1, count + len(pattern.findall(loose))
    return tier, best, count


def by_evidence(hits: list[Hit], pool: list[Hit], score, loose: bool = False) -> list[Hit]:
    """The clause of the pool that best says what is asked leads (the better ranked on a tie: how
    many dates or numbers a clause holds says nothing of whether it answers); the ranked clauses follow it."""
    scored = [(score(h.clause.text, h.clause.doc)[:2], -i, h) for i, h in enumerate(pool)]
    best = max(scored, default=None, key=lambda x: x[:2])
    if best is None or best[0][0] == 0 or loose and hits and score(hits[0].clause.text, hits[0].clause.doc)[0] > 0:
        return hits  # a date or a contact, said apart from the subject, is as good in the best-ranked clause
    said = best[2]
    key = (said.clause.doc, said.clause.clause_id)
    return [said] + [h for h in hits if (h.clause.doc, h.clause.clause_id) != key]


def handle(ctx, plan: Plan) -> Answer:
    # no hard filter to a document the question names: the document-level BM25 already lifts it
    hits = ctx.ranked(plan.query, wants_target=plan.has("asks.number", "target.context"))
    if not hits:
        return ctx.refuse(plan, messages.NOT_IN_TEXT, [], "general")
    weights = ctx.weights(plan.topic or plan.query, plan.query)
    subject, synonyms = evidence.subject_weights(ctx, plan), ctx.searcher.lexical.tokenizer.synonyms
    score = lambda text, doc=None: focus_score(plan, text, subject, synonyms, ctx.km.doc_text(doc) if doc else "")
    said_of = lambda text: score(text)[0] > 0
    if plan.focus:
        hits = by_evidence(hits, ctx.searcher.search(plan.query, k=EVIDENCE_POOL), score, loose=not set(plan.focus) & STRICT)
    index = ctx.index
    # the documents' titles count: they often carry the place and subject the clause leaves implicit
    evidence_text = " ".join(h.clause.text + " " + h.clause.title for h in hits[:3]) + " " + " ".join(
        dict.fromkeys(index.docs[h.clause.doc].title for h in hits[:3])
    )
    reason = evidence.out_of_scope(ctx, plan, weights, evidence_text, hits)
    if reason:
        return ctx.refuse(plan, reason, hits, "general")
    listing = plan.has("asks.list")
    chosen = pick_sentences([(h.clause, h.score) for h in hits], weights, limit=5 if listing else 3)
    if plan.focus:  # the sentences that say what is asked, when there are any
        said = [c for c in chosen if said_of(c[2])]
        if not said:
            said = [(hits[0].clause, hits[0].score, s, 1.0) for s in sentences_of(hits[0].clause) if said_of(s)][:1]
        chosen = said + [c for c in chosen if c not in said][: max(0, 2 - len(said))]
    top = hits[0].clause
    if chosen and len(top.text) <= QUOTE_WHOLE and top.kind in WHOLE_KINDS:
        chosen = [(top, hits[0].score, top.text, 1.0)] + [c for c in chosen if c[0] is not top][:1]
    draft = ctx.draft()
    for hit in hits[: ctx.settings.top_k]:  # numbered in rank order, so [1] is always the best clause
        draft.cite(hit.clause, hit.score)
    span = ctx.read(plan.query, hits)
    if span is not None:  # the shortest answer first, then the sentences that give its context
        n = draft.cite(span.clause, hits[span.rank].score, quote=span.text)
        draft.lines.append(f"{span.text}[{n}]")
        chosen = [c for c in chosen if c[2].strip() != span.text]
    for clause, score, sentence, _ in chosen:
        n = draft.cite(clause, score, quote=sentence)
        draft.lines.append(("- " if listing and len(chosen) > 1 else "") + f"{sentence}[{n}]")
    return Answer(question=plan.raw, answer=draft.text(), citations=draft.citations, intent="general")
