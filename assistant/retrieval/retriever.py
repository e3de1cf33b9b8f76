"""Opening a searchable knowledge base, and its LangChain retriever face."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.models import Clause
from assistant.retrieval.hybrid import FusionWeights, HybridSearcher
from assistant.retrieval.index import KnowledgeIndex, passage_text
from assistant.retrieval.lexical import LexicalIndex
from assistant.retrieval.tokenize import Tokenizer, quoted_terms

LEXICAL_DIR = "bm25"
LEXICAL_VERSION = 2  # bump when tokenisation changes: saved indexes are then rebuilt in memory


def domain_words(clauses: list[Clause]) -> list[str]:
    """Department names (with and without their 市/市委 prefix) and quoted programme names."""
    words: set[str] = set()
    for c in clauses:
        for unit in c.lead_units + c.coop_units:
            words.add(unit)
            for prefix in ("市委", "市"):
                if unit.startswith(prefix) and len(unit) - len(prefix) >= 2:
                    words.add(unit[len(prefix) :])
    words.update(quoted_terms(c.text for c in clauses if c.window == 0))
    return sorted(words)


def document_texts(clauses: list[Clause], titles: dict[str, str]) -> tuple[list[str], list[str]]:
    """(doc names in sorted order, each document's title and full text) for document-level BM25."""
    parts: dict[str, list[str]] = {}
    for c in clauses:
        parts.setdefault(c.doc, [titles.get(c.doc, "")]).append(c.text)
    docs = sorted(parts)
    return docs, [" ".join(parts[d]) for d in docs]


def build_lexical(clauses: list[Clause], titles: dict[str, str], directory: Path | None = None) -> tuple[LexicalIndex, LexicalIndex]:
    """BM25 over the clauses and over whole documents; saved to `directory` when given."""
    words = domain_words(clauses)
    tokenizer = Tokenizer(words)
    lexical = LexicalIndex.build([passage_text(c, titles.get(c.doc, "")) for c in clauses], tokenizer)
    documents = LexicalIndex.build(document_texts(clauses, titles)[1], tokenizer)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        lexical.save(directory / "clauses")
        documents.save(directory / "documents")
        meta = {"version": LEXICAL_VERSION, "words": words}
        (directory / "words.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return lexical, documents


def load_lexical(index: KnowledgeIndex) -> tuple[LexicalIndex, LexicalIndex]:
    directory = index.build / LEXICAL_DIR
    meta = json.loads((directory / "words.json").read_text(encoding="utf-8")) if (directory / "words.json").exists() else {}
    if isinstance(meta, dict) and meta.get("version") == LEXICAL_VERSION:
        tokenizer = Tokenizer(meta["words"])
        return LexicalIndex.load(directory / "clauses", tokenizer), LexicalIndex.load(directory / "documents", tokenizer)
    return build_lexical(index.clauses, {d: m.title for d, m in index.docs.items()})


_cache: dict[tuple[str, str], HybridSearcher] = {}
_lock = threading.Lock()


def open_searcher(index_dir: Path, weights: FusionWeights | None = None) -> HybridSearcher:
    """The searcher for the serving build of `index_dir`, loaded once per build and process."""
    index_dir = Path(index_dir)
    with _lock:
        build = KnowledgeIndex.current_name(index_dir)
        key = (str(index_dir.resolve()), build)
        if key not in _cache:
            index = KnowledgeIndex.open(index_dir)
            _cache.clear()  # a new build replaces the old one
            lexical, documents = load_lexical(index)
            _cache[key] = HybridSearcher(index, lexical, weights, documents=documents)
        searcher = _cache[key]
        if weights is not None:
            searcher.weights = weights
        return searcher


class PolicyRetriever(BaseRetriever):
    """LangChain retriever over the hybrid searcher: one Document per clause, metadata for citing."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    searcher: HybridSearcher
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(
                page_content=hit.clause.text,
                metadata={
                    "doc": hit.clause.doc,
                    "clause_id": hit.clause.clause_id,
                    "title": hit.clause.title,
                    "score": hit.score,
                    "lead_units": hit.clause.lead_units,
                    "coop_units": hit.clause.coop_units,
                },
            )
            for hit in self.searcher.search(query, k=self.k)
        ]
