"""The systems an evaluation compares: the assistant and baselines, all answering as `Answer`s."""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from assistant.ingestion.text import fold
from assistant.models import Answer, Citation, Clause
from assistant.retrieval.hybrid import FusionWeights, HybridSearcher
from assistant.retrieval.retriever import open_searcher

if TYPE_CHECKING:
    from assistant.settings import Settings


class System(Protocol):
    name: str

    def run(self, question: str, history: list[str]) -> Answer: ...


def _answer_from(question: str, ranked: list[tuple[Clause, float]], started: float, titles: dict[str, str]) -> Answer:
    """Retrieval-only answer: the best clause as the answer, the top five as citations."""
    citations = [
        Citation(n=i, doc=c.doc, clause_id=c.clause_id, title=c.title, text=c.text, score=round(s, 4), doc_title=titles.get(c.doc, ""))
        for i, (c, s) in enumerate(ranked[:5], start=1)
    ]
    text = f"{ranked[0][0].text}[1]" if ranked else ""
    return Answer(question=question, answer=text, citations=citations, latency_ms=(time.perf_counter() - started) * 1000, intent="baseline")


class AssistantSystem:
    name = "assistant"

    def __init__(self, index_dir: Path, settings: Settings | None = None) -> None:
        from assistant.answering.service import Assistant

        self.assistant = Assistant(index_dir, settings)

    def run(self, question: str, history: list[str]) -> Answer:
        return self.assistant.run(question, history)


class FoldedAssistant:
    """The assistant with its trained models cross-validated: each question is answered with the fold's
    reranker and reader that never saw it (`assistant train … --folds k` wrote them under `work`,
    one folder per model; a model with no fold files is switched off rather than shown its own test)."""

    def __init__(self, index_dir: Path, work: Path, settings: Settings | None = None) -> None:
        import json

        from assistant.answering.service import Assistant
        from assistant.settings import get_settings

        settings = settings or get_settings()
        splits = [json.loads(p.read_text(encoding="utf-8"))["folds"] for p in Path(work).glob("*/split.json")]
        if not splits or len(set(splits)) != 1:
            raise ValueError(f"{work}: no training run with folds (or runs with different fold counts)")
        self.folds = splits[0]
        fold_file = lambda name, f: (Path(work) / name / f"fold-{f}.safetensors") if (Path(work) / name / f"fold-{f}.safetensors").exists() else None  # noqa: E731
        self.assistants = [Assistant(index_dir, settings.model_copy(update={"reranker": fold_file("reranker", f), "reader": fold_file("reader", f)}))
                           for f in range(self.folds)]
        self.name = f"assistant ({self.folds}-fold)"

    def run(self, question: str, history: list[str]) -> Answer:
        from assistant.training.data import fold_of

        return self.assistants[fold_of(question, self.folds)].run(question, history)


class LLMSystem:
    """The assistant in LLM mode (settings.llm_*): the same retrieval, a model writes the answer from the
    clauses, every sentence is verified against the clauses it cites. `extractive` may share the
    extractive assistant with an `assistant` system evaluated alongside."""

    def __init__(self, index_dir: Path, settings: Settings | None = None, extractive: object | None = None) -> None:
        from assistant.answering.llm import LLMAssistant
        from assistant.settings import get_settings

        settings = settings or get_settings()
        if not settings.llm_model:
            raise ValueError("the llm system needs a model: set ASSISTANT_LLM_MODEL (and ASSISTANT_LLM_BASE_URL)")
        self.assistant = LLMAssistant(index_dir, settings, extractive)  # type: ignore[arg-type]
        self.name = f"llm:{settings.llm_model}"

    def run(self, question: str, history: list[str]) -> Answer:
        return self.assistant.run(question, history)


class WeightedRetrieval:
    """The same hybrid searcher with one signal only (BM25-only, dense-only baselines)."""

    def __init__(self, index_dir: Path, name: str, weights: FusionWeights) -> None:
        base = open_searcher(index_dir)
        self.searcher = HybridSearcher(base.index, base.lexical, weights, documents=base.documents)
        self.name = name

    def run(self, question: str, history: list[str]) -> Answer:
        started = time.perf_counter()
        query = " ".join([*history[-1:], question])
        hits = self.searcher.search(query, k=5)
        titles = {d: m.title for d, m in self.searcher.index.docs.items()}
        return _answer_from(question, [(h.clause, h.score) for h in hits], started, titles)


class RandomClauses:
    """A broken retriever on purpose: random clauses. The floor every metric must clear."""

    name = "random"

    def __init__(self, index_dir: Path, seed: int = 0) -> None:
        self.index = open_searcher(index_dir).index
        self.rng = random.Random(seed)

    def run(self, question: str, history: list[str]) -> Answer:
        started = time.perf_counter()
        picks = self.rng.sample(self.index.clauses, k=min(5, len(self.index.clauses)))
        titles = {d: m.title for d, m in self.index.docs.items()}
        return _answer_from(question, [(self.index.whole(c), 0.0) for c in picks], started, titles)


class NaiveLangChain:
    """What most RAG tutorials build: RecursiveCharacterTextSplitter(500, 50) chunks in Chroma with
    the same embedder, the top four chunks concatenated as the answer."""

    name = "naive-langchain"

    def __init__(self, index_dir: Path, knowledge_dir: Path, cache_path: Path) -> None:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.embeddings import Embeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from assistant.ingestion import LoadError, load_file
        from assistant.ingestion.metadata import extract_metadata
        from assistant.retrieval.cache import EmbeddingCache
        from assistant.retrieval.index import knowledge_files

        embedder = open_searcher(index_dir).index.embedder
        cache = EmbeddingCache(cache_path)

        class CachedEmbeddings(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                vectors, _ = cache.embed(embedder.name, list(texts), embedder.embed_passages)
                return vectors.tolist()

            def embed_query(self, text: str) -> list[float]:
                return embedder.embed_query(text).tolist()

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        texts, metadatas = [], []
        for path in knowledge_files(knowledge_dir):
            try:
                _, body = extract_metadata(load_file(path))
            except LoadError:
                continue
            for i, chunk in enumerate(splitter.split_text(body)):
                texts.append(chunk)
                metadatas.append({"doc": path.stem, "chunk": i})
        client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
        self.store = Chroma(collection_name=f"naive-{abs(hash(str(knowledge_dir))) % 10**8}", embedding_function=CachedEmbeddings(), client=client)
        for i in range(0, len(texts), 500):
            self.store.add_texts(texts[i : i + 500], metadatas=metadatas[i : i + 500])
        self.chunks = len(texts)
        # each document's clauses in comparison form, shortest first, for _clause_of
        self.folded: dict[str, list[tuple[str, str]]] = {}
        for c in sorted(open_searcher(index_dir).index.clauses, key=lambda c: len(c.text)):
            self.folded.setdefault(c.doc, []).append((c.clause_id, fold(c.text)))

    def _clause_of(self, doc: str, chunk: str) -> str | None:
        """The clause a chunk's middle falls in (the shortest that holds it), so clause hit@k is
        measured for this baseline too."""
        folded = fold(chunk)
        probe = folded[len(folded) // 2 - 8 : len(folded) // 2 + 8]
        if len(probe) < 8:
            return None
        return next((clause_id for clause_id, text in self.folded.get(doc, []) if probe in text), None)

    def run(self, question: str, history: list[str]) -> Answer:
        started = time.perf_counter()
        docs = self.store.similarity_search_with_score(question, k=5)
        citations = [
            Citation(n=i, doc=d.metadata["doc"], clause_id=self._clause_of(d.metadata["doc"], d.page_content) or f"chunk-{d.metadata['chunk']}",
                     title=d.metadata["doc"], text=d.page_content, score=round(1 - s, 4))
            for i, (d, s) in enumerate(docs, start=1)
        ]
        text = "\n".join(f"{c.text}[{c.n}]" for c in citations[:4])
        return Answer(question=question, answer=text, citations=citations, latency_ms=(time.perf_counter() - started) * 1000, intent="baseline")


def build_systems(names: list[str], index_dir: Path, knowledge_dir: Path, settings: Settings | None = None) -> list[System]:
    """The named systems; `settings` configures the assistant (default: the environment's)."""
    known = {"assistant", "llm", "bm25", "dense", "naive", "random"}
    unknown = set(names) - known
    if unknown:
        raise ValueError(f"unknown system(s) {', '.join(sorted(unknown))}; choose from {', '.join(sorted(known))}")
    out: list[System] = []
    for name in names:
        if name == "assistant":
            out.append(AssistantSystem(index_dir, settings))
        elif name == "llm":
            out.append(LLMSystem(index_dir, settings))
        elif name == "bm25":
            out.append(WeightedRetrieval(index_dir, "bm25-only", FusionWeights(lexical=1.0, dense=0.0, sentence=0.0, document=0.0)))
        elif name == "dense":
            out.append(WeightedRetrieval(index_dir, "dense-only", FusionWeights(lexical=0.0, dense=1.0, sentence=0.0, document=0.0)))
        elif name == "naive":
            out.append(NaiveLangChain(index_dir, knowledge_dir, index_dir / "embeddings.sqlite"))
        else:
            out.append(RandomClauses(index_dir))
    return out
