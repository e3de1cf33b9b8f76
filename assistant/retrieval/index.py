"""The knowledge index: clauses + their vectors in Chroma, built beside the old one and swapped in.

Layout of an index directory::

    CURRENT            {"build": "build-…"}: the build that serves; replaced atomically
    embeddings.sqlite  embedding cache shared by all builds
    build-…/           chroma/, manifest.json, clauses.jsonl, indicators.jsonl

An ingest parses only new or changed files, embeds only text the cache has not seen, writes a
new build and then swaps CURRENT. A crash at any point leaves the previous build serving.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel, Field

from assistant.ingestion import SUPPORTED_SUFFIXES, LoadError, parse_file
from assistant.ingestion.departments import DepartmentRegistry
from assistant.ingestion.text import split_sentences
from assistant.models import Clause, DocumentMeta, FileError, Indicator, IngestReport
from assistant.retrieval import cost
from assistant.retrieval.cost import MIN_SENTENCE_CHARS
from assistant.retrieval.cache import EmbeddingCache, text_hash
from assistant.retrieval.embedders import Embedder, get_embedder
from assistant.settings import Settings

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
PARSER_VERSION = 4  # bump when parsing changes: unchanged files are parsed again (vectors still come from the cache)
INDEX_VERSION = 2  # bump when what gets embedded changes (2: sentence vectors); builds are redone from the cache
COLLECTION_PREFIX = "kb-"
SENTENCE_SUFFIX = "-sentences"


class IndexError_(RuntimeError):
    """The index cannot be used as asked (missing, another embedder, locked)."""


class NoIndexError(IndexError_):
    """No build serves yet: the knowledge base is empty (or has never been ingested)."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(
            f"知识库为空：还没有收录任何政策文件（no index at {index_dir}）。"
            "请在「知识库」页上传政策文件，或把文件放入知识库目录后运行 `assistant ingest`。"
        )


class NoDocumentsError(IndexError_):
    """Not one knowledge file could be ingested: nothing is built, the serving build (if any) stays."""

    def __init__(self, knowledge_dir: Path, errors: list[FileError], serving: bool) -> None:
        self.errors = errors
        kept = "索引未更改，上一版继续使用" if serving else "未建立索引"
        lines = [f"知识库目录 {knowledge_dir} 中没有可入库的政策文件，{kept}（no valid document）："]
        if not errors:
            lines.append(f"  目录中没有支持的文件（{'、'.join(SUPPORTED_SUFFIXES)}）")
        lines += [f"  {Path(e.path).name}：{e.message}" for e in errors]
        super().__init__("\n".join(lines))


class DocEntry(BaseModel):
    meta: DocumentMeta
    clauses: int


class Manifest(BaseModel):
    embedder: str = Field(description="identity of the vectors; never mixed")
    embedder_spec: str = Field("e5", description="how to load that embedder")
    chroma_url: str | None = Field(None, description="the Chroma server holding the vectors; None: embedded in the build")
    collection: str
    sentence_collection: str | None = Field(None, description="one vector per sentence; None in builds made before sentence vectors")
    created: float = Field(default_factory=time.time)
    knowledge_dir: str = ""
    parse_settings: dict[str, int] = Field(default_factory=dict)
    docs: dict[str, DocEntry] = Field(default_factory=dict)


def passage_text(clause: Clause, doc_title: str) -> str:
    """What gets embedded: the clause with its document title and heading path as context."""
    if doc_title == clause.doc:  # an untitled document is "titled" by its file name: no meaning to embed
        doc_title = ""
    heading = " > ".join(h for h in clause.heading_path if h not in (doc_title, clause.doc))
    head = f"{doc_title}｜{heading}" if doc_title and heading else doc_title or heading
    return f"{head}\n{clause.text}" if head else clause.text


def sentence_passages(clause: Clause) -> list[str]:
    """One passage per sentence of the clause. A question usually paraphrases one sentence; matched
    against a whole clause its meaning is diluted by the rest (measured on ncp-policy-qa: document
    hit@1 0.829 → 0.848, hit@5 0.956 → 0.964). Without the document title: prefixed, it made every
    sentence of a document alike and gave the gain back."""
    return [clause.text[a:b] for a, b in split_sentences(clause.text) if b - a >= MIN_SENTENCE_CHARS]


def collection_name(index_dir: Path) -> str:
    """Readable and unique per index directory: two installs sharing a Chroma server (both with an
    `.index/`) must never drop each other's collections as stale."""
    resolved = index_dir.resolve()
    stem = "".join(ch if ch.isalnum() and ch.isascii() else "-" for ch in resolved.name).strip("-") or "default"
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:8]
    return f"{COLLECTION_PREFIX}{stem[:40]}-{digest}"


def chroma_client(path: Path, url: str | None = None):
    """The embedded store at `path`, or a Chroma server when `url` (http://host:port) is given."""
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url)
        return chromadb.HttpClient(host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000, ssl=parsed.scheme == "https", settings=settings)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _embedding_function(embedder: Embedder):
    """A Chroma embedding function over our Embedder, so Chroma never falls back to its default model."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class AssistantEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            self.embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            return list(self.embedder.embed_passages(list(input)))

        def embed_query(self, input: Documents) -> Embeddings:
            return [self.embedder.embed_query(t) for t in input]

        @staticmethod
        def name() -> str:
            return "assistant-embedder"

        def get_config(self) -> dict:
            return {"embedder": embedder.name}

        @staticmethod
        def build_from_config(config: dict) -> "EmbeddingFunction":
            return AssistantEmbeddingFunction()

        def is_legacy(self) -> bool:
            return False

    return AssistantEmbeddingFunction()


def _chroma_metadata(clause: Clause, doc_title: str) -> dict[str, str | int]:
    return {
        "doc": clause.doc,
        "doc_title": doc_title,
        "clause_id": clause.clause_id,
        "title": clause.title,
        "kind": clause.kind,
        "window": clause.window,
        "lead_units": "、".join(clause.lead_units),
        "coop_units": "、".join(clause.coop_units),
    }


def _write_jsonl(path: Path, rows: list[BaseModel]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row.model_dump_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _read_jsonl(path: Path, model: type[BaseModel]) -> list:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [model.model_validate_json(line) for line in fh if line.strip()]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def knowledge_files(knowledge_dir: Path) -> list[Path]:
    if not knowledge_dir.is_dir():
        raise IndexError_(f"找不到知识库目录 {knowledge_dir}（knowledge directory not found）")
    return sorted(
        p for p in knowledge_dir.rglob("*") if p.is_file() and not p.name.startswith((".", "~$")) and p.suffix.lower() in SUPPORTED_SUFFIXES
    )


class KnowledgeIndex:
    """A read-only view of the serving build."""

    def __init__(self, index_dir: Path, build: Path, manifest: Manifest, clauses: list[Clause], indicators: list[Indicator]) -> None:
        self.index_dir = index_dir
        self.build = build
        self.manifest = manifest
        self.clauses = clauses
        self.indicators = indicators
        self.by_key = {c.key: c for c in clauses}
        self.by_doc: dict[str, list[Clause]] = {}
        for c in clauses:
            self.by_doc.setdefault(c.doc, []).append(c)
        self.docs = {d: e.meta for d, e in manifest.docs.items()}
        self._collections: dict[str, tuple[object, int]] = {}  # name → (collection, vector count); a build never changes
        self._collection_lock = threading.Lock()
        self._departments: DepartmentRegistry | None = None
        self._whole: dict[tuple[str, str], Clause] = {}

    def whole(self, clause: Clause) -> Clause:
        """The whole clause a window belongs to (itself when not windowed)."""
        if clause.windows == 1:
            return clause
        from assistant.ingestion.pipeline import merge_windows

        key = (clause.doc, clause.clause_id)
        if key not in self._whole:
            parts = [self.by_key[f"{clause.doc}::{clause.clause_id}#{i}"] for i in range(clause.windows)]
            self._whole[key] = merge_windows(parts)
        return self._whole[key]

    def clause(self, doc: str, clause_id: str) -> Clause | None:
        """The whole clause `clause_id` of `doc`."""
        first = self.by_key.get(f"{doc}::{clause_id}") or self.by_key.get(f"{doc}::{clause_id}#0")
        return self.whole(first) if first is not None else None

    def children(self, clause: Clause) -> list[Clause]:
        """The direct sub-clauses (whole) of a clause, in order."""
        prefix, depth = clause.clause_id + ".", clause.clause_id.count(".") + 1
        return [
            self.whole(c) for c in self.by_doc.get(clause.doc, []) if c.window == 0 and c.clause_id.startswith(prefix) and c.clause_id.count(".") == depth
        ]

    @staticmethod
    def current_name(index_dir: Path) -> str:
        build = current_build(index_dir)
        if build is None:
            raise NoIndexError(index_dir)
        return build.name

    @classmethod
    def open(cls, index_dir: Path) -> "KnowledgeIndex":
        build = current_build(index_dir)
        if build is None:
            raise NoIndexError(index_dir)
        manifest = read_manifest(build)
        return cls(index_dir, build, manifest, _read_jsonl(build / "clauses.jsonl", Clause), _read_jsonl(build / "indicators.jsonl", Indicator))

    @property
    def embedder(self) -> Embedder:
        return get_embedder(self.manifest.embedder_spec)

    def _open(self, name: str) -> tuple[object, int]:
        with self._collection_lock:  # the UI's worker threads may open it at the same time
            if name not in self._collections:
                client = chroma_client(self.build / "chroma", self.manifest.chroma_url)
                collection = client.get_collection(name, embedding_function=_embedding_function(self.embedder))
                self._collections[name] = (collection, collection.count())
            return self._collections[name]

    @property
    def collection(self):
        return self._open(self.manifest.collection)[0]

    @property
    def sentence_collection(self):
        """The per-sentence vectors, or None for a build made before they existed."""
        if self.manifest.sentence_collection is None:
            return None
        return self._open(self.manifest.sentence_collection)[0]

    def _nearest(self, name: str, query: str, k: int, where: dict | None) -> list[tuple[str, float]]:
        """(vector id, cosine similarity) of the k nearest vectors of a collection, best first."""
        collection, size = self._open(name)
        vector = self.embedder.embed_query(query)
        result = collection.query(query_embeddings=[vector.tolist()], n_results=max(1, min(k, size)), where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    @property
    def departments(self) -> DepartmentRegistry:
        if self._departments is None:
            mentions = [u for c in self.clauses if c.window == 0 for u in c.lead_units + c.coop_units]
            self._departments = DepartmentRegistry.build(mentions)
        return self._departments

    def dense_search(self, query: str, k: int = 10, where: dict | None = None) -> list[tuple[Clause, float]]:
        """Nearest clauses by cosine similarity; optional Chroma metadata filter (e.g. {"doc": "x"})."""
        return [(self.by_key[key], sim) for key, sim in self._nearest(self.manifest.collection, query, k, where) if key in self.by_key]

    def sentence_search(self, query: str, k: int = 10, where: dict | None = None) -> list[tuple[Clause, float]]:
        """Clauses by their best-matching sentence (cosine similarity), best first; empty for a build
        without sentence vectors. `where` filters on the same metadata as `dense_search`."""
        if self.manifest.sentence_collection is None:
            return []
        best: dict[str, float] = {}
        # ids are "<clause key>@<n>": reading metadata back would cost ten times the search itself
        for sentence_id, sim in self._nearest(self.manifest.sentence_collection, query, k, where):
            key = sentence_id.rsplit("@", 1)[0]
            if key in self.by_key and key not in best:  # results come best first
                best[key] = sim
        return [(self.by_key[key], sim) for key, sim in best.items()]


def read_manifest(build: Path) -> Manifest:
    return Manifest.model_validate_json((build / "manifest.json").read_text(encoding="utf-8"))


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    try:
        build = index_dir / json.loads(pointer.read_text(encoding="utf-8"))["build"]
    except (ValueError, KeyError):
        raise IndexError_(f"索引指针 {pointer} 无法读取，请运行 `assistant ingest --rebuild`（the index pointer is unreadable）")
    return build if (build / "manifest.json").exists() else None


@contextmanager
def _ingest_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / "ingest.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexError_(f"另一个入库任务正在更新 {index_dir}，请稍后再试（another ingest is running）") from None
        yield


def _remove_stale_builds(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.glob("build-*"):
        if path.name not in keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def ingest_configured(
    settings: Settings,
    *,
    knowledge_dir: Path | None = None,
    index_dir: Path | None = None,
    embedder_spec: str | None = None,
    rebuild: bool = False,
    progress: bool = True,
    max_file_passages: int | None = None,
    extra_files: list[Path] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """`ingest` with every parameter from the settings (the CLI's flags may name other directories,
    another embedder or another passage limit), so the CLI, the app's start-up and its uploads build alike."""
    return ingest(
        Path(knowledge_dir or settings.knowledge_dir),
        Path(index_dir or settings.index_dir),
        embedder_spec or settings.embedder,
        rebuild=rebuild,
        # the configured embedder builds new knowledge bases; one built with another keeps it (its
        # vectors stay valid) unless an embedder is named for this ingest: re-embedding is offered
        keep_serving_embedder=embedder_spec is None,
        max_chars=settings.max_clause_chars,
        window_chars=settings.window_chars,
        batch=settings.embed_batch,
        progress=progress,
        chroma_url=settings.chroma_url,
        sentence_vectors=settings.sentence_vectors,
        max_file_passages=max_file_passages or settings.max_file_passages,
        extra_files=extra_files,
        on_progress=on_progress,
    )


def ingest(
    knowledge_dir: Path,
    index_dir: Path,
    embedder_spec: str = "e5",
    *,
    rebuild: bool = False,
    max_chars: int = 450,
    window_chars: int = 300,
    batch: int = 32,
    progress: bool = True,
    chroma_url: str | None = None,
    sentence_vectors: bool = True,
    keep_serving_embedder: bool = False,
    max_file_passages: int | None = None,
    extra_files: list[Path] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Bring the index in line with the knowledge directory, embedding only new or changed text.
    Without `sentence_vectors` only clauses are embedded (a build searches without them). Vectors of
    two embedders never share a build: with `keep_serving_embedder` a build made by another embedder
    goes on with its own (and the report's notice says how to switch); without it, that is refused.

    A new or changed file that would add more than `max_file_passages` passages to embed is refused
    (a FileError, as for a bad file; None: no limit). `extra_files` are indexed as if they were in the
    knowledge directory (an upload, moved there only once its build serves); `on_progress(done, total)`
    follows the embedding."""
    started = time.perf_counter()
    embedder = get_embedder(embedder_spec)
    report = IngestReport(index_dir=str(index_dir))
    with _ingest_lock(index_dir):
        serving = current_build(index_dir)
        old_build = None if rebuild else serving
        old: Manifest | None = None
        old_clauses: dict[str, list[Clause]] = {}
        old_indicators: dict[str, list[Indicator]] = {}
        parse_settings = {"max_chars": max_chars, "window_chars": window_chars, "parser": PARSER_VERSION, "index": INDEX_VERSION}
        if not sentence_vectors:  # recorded only when off, so the builds made before the switch stay valid
            parse_settings["sentences"] = 0
        known: set[str] = set()  # documents of the serving build
        if old_build is not None:
            old = read_manifest(old_build)
            if old.embedder != embedder.name and keep_serving_embedder and not rebuild:
                report.notice = (
                    f"此知识库的向量由 {old.embedder} 生成，本次继续使用它（不混用两种向量）；如需改用 {embedder_spec}，"
                    f"请运行 assistant ingest --rebuild --embedder {embedder_spec}（将重新计算全部向量）"
                )
                embedder_spec, embedder = old.embedder_spec, get_embedder(old.embedder_spec)
            if old.embedder != embedder.name:
                raise IndexError_(
                    f"{index_dir} 中的索引由 {old.embedder} 生成，不能与 {embedder.name} 的向量混用；"
                    f"请加 --rebuild 重建，或换一个 --index 目录（refusing to mix embedders）"
                )
            known = set(old.docs)
            if old.parse_settings != parse_settings:
                old, old_build = None, None  # clause boundaries change: every file is parsed again
            else:
                for c in _read_jsonl(old_build / "clauses.jsonl", Clause):
                    old_clauses.setdefault(c.doc, []).append(c)
                for ind in _read_jsonl(old_build / "indicators.jsonl", Indicator):
                    old_indicators.setdefault(ind.doc, []).append(ind)
        _remove_stale_builds(index_dir, keep={serving.name} if serving else set())

        docs: dict[str, DocEntry] = {}
        clauses: dict[str, list[Clause]] = {}
        indicators: dict[str, list[Indicator]] = {}
        fresh: list[str] = []
        paths: dict[str, Path] = {}
        counter = _PassageCounter(index_dir, embedder.name, max_file_passages, sentence_vectors)
        indexed = _docs_of(serving)  # a file indexed once skips the rough check: its vectors are mostly cached
        for path in knowledge_files(knowledge_dir) + list(extra_files or []):
            doc = path.stem
            if doc in paths:
                report.errors.append(FileError(path=str(path), message=f"已跳过：另一个文件 {paths[doc].name} 的文件名相同（another file already has the name {doc!r}）"))
                continue
            paths[doc] = path
            previous = old.docs.get(doc) if old else None
            try:
                sha = _sha256(path)
                if previous is not None and previous.meta.sha256 == sha and doc in old_clauses:
                    docs[doc], clauses[doc], indicators[doc] = previous, old_clauses[doc], old_indicators.get(doc, [])
                    report.unchanged.append(doc)
                    continue
                parsed = parse_file(path, max_chars=max_chars, window_chars=window_chars, check=counter.check_text(max_chars) if doc not in indexed else None)
                if path.parent != knowledge_dir and path in (extra_files or []):  # known by where it will live
                    parsed.meta.path = str(knowledge_dir / path.name)
                counter.check(parsed)
            except LoadError as exc:
                report.errors.append(FileError(path=str(path), message=str(exc)))
                if previous is not None and doc in old_clauses:  # keep the last good version serving
                    docs[doc], clauses[doc], indicators[doc] = previous, old_clauses[doc], old_indicators.get(doc, [])
                continue
            docs[doc] = DocEntry(meta=parsed.meta, clauses=len(parsed.clauses))
            clauses[doc], indicators[doc] = parsed.clauses, parsed.indicators
            fresh.append(doc)
            (report.changed if doc in known else report.new).append(doc)
        counter.close()
        report.removed = sorted(known - set(docs))
        report.documents = len(docs)
        report.clauses = sum(len(v) for v in clauses.values())

        report.embedder = embedder.name
        if old_build is not None and not fresh and not report.removed:
            report.build = old_build.name
            report.seconds = round(time.perf_counter() - started, 3)
            return report

        if not docs:  # nothing to serve: building would fail, and the serving build is better than none
            raise NoDocumentsError(knowledge_dir, report.errors, serving is not None)

        build = index_dir / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with _removed_on_failure(index_dir, build):
            # on a server, each build is its own collection, so the serving one is never touched
            name = collection_name(index_dir) + (f"-{build.name[6:]}" if chroma_url else "")
            (build / "chroma").mkdir(parents=True)
            # A fresh store each build, filled from the embedding cache: only new text is embedded, and a
            # build never shares files with the one serving.
            client = chroma_client(build / "chroma", chroma_url)
            collection = _create_collection(client, name, embedder)
            sentences = _create_collection(client, name + SENTENCE_SUFFIX, embedder) if sentence_vectors else None
            to_add = [(c, docs[c.doc].meta.title) for d in docs for c in clauses[d]]
            texts = [passage_text(c, title) for c, title in to_add]
            per_sentence = [(c, title, n, text) for c, title in to_add for n, text in enumerate(sentence_passages(c))] if sentence_vectors else []
            cache = EmbeddingCache(index_dir / "embeddings.sqlite")
            try:
                bar = _progress_bar(progress, on_progress)
                vectors, report.embedded = cache.embed(
                    embedder.name,
                    texts + [text for *_, text in per_sentence],
                    embedder.embed_passages,
                    batch=batch,
                    on_start=bar.start if bar else None,
                    progress=bar.update if bar else None,
                )
                if bar:
                    bar.close()
            finally:
                cache.close()
            _add_in_batches(collection, [c.key for c, _ in to_add], vectors[: len(to_add)], [c.text for c, _ in to_add], [_chroma_metadata(c, t) for c, t in to_add])
            if sentences is not None:
                _add_in_batches(
                    sentences,
                    [f"{c.key}@{n}" for c, _, n, _ in per_sentence],
                    vectors[len(to_add) :],
                    [text for *_, text in per_sentence],
                    [_chroma_metadata(c, t) for c, t, _, _ in per_sentence],
                )
            report.passages = collection.count()
            report.sentences = sentences.count() if sentences is not None else 0
            del collection, sentences, client

            manifest = Manifest(
                embedder=embedder.name,
                embedder_spec=embedder_spec,
                chroma_url=chroma_url,
                collection=name,
                sentence_collection=name + SENTENCE_SUFFIX if sentence_vectors else None,
                knowledge_dir=str(knowledge_dir),
                parse_settings=parse_settings,
                docs=docs,
            )
            _write_jsonl(build / "clauses.jsonl", [c for d in docs for c in clauses[d]])
            _write_jsonl(build / "indicators.jsonl", [i for d in docs for i in indicators[d]])
            from assistant.retrieval.retriever import LEXICAL_DIR, build_lexical

            build_lexical([c for d in docs for c in clauses[d]], {d: e.meta.title for d, e in docs.items()}, build / LEXICAL_DIR)
            _atomic_write(build / "manifest.json", manifest.model_dump_json(indent=1))
            _atomic_write(index_dir / CURRENT, json.dumps({"build": build.name, "embedder": embedder.name}))
        # the previous build stays one round so a process still reading it is not cut off
        _remove_stale_builds(index_dir, keep={build.name} | ({serving.name} if serving else set()))
        if chroma_url:
            _drop_stale_collections(chroma_client(build / "chroma", chroma_url), collection_name(index_dir), keep={name, name + SENTENCE_SUFFIX, *_collections_of(serving)})
        report.build = build.name
        report.seconds = round(time.perf_counter() - started, 3)
        return report


@contextmanager
def _removed_on_failure(index_dir: Path, build: Path) -> Iterator[None]:
    """A build that fails before CURRENT points to it is removed (a kill -9 leaves it to the next ingest)."""
    try:
        yield
    except BaseException:
        pointer = index_dir / CURRENT
        if not (pointer.exists() and build.name in pointer.read_text(encoding="utf-8", errors="replace")):
            shutil.rmtree(build, ignore_errors=True)
        raise


def _create_collection(client, name: str, embedder):
    return client.create_collection(
        name, embedding_function=_embedding_function(embedder), metadata={"embedder": embedder.name}, configuration={"hnsw": {"space": "cosine"}}
    )


def _add_in_batches(collection, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
    for i in range(0, len(ids), 2000):  # Chroma caps the size of one add
        collection.add(
            ids=ids[i : i + 2000],
            embeddings=np.asarray(vectors[i : i + 2000], dtype=np.float32),
            documents=documents[i : i + 2000],
            metadatas=metadatas[i : i + 2000],
        )


def _docs_of(build: Path | None) -> set[str]:
    if build is None:
        return set()
    return set(read_manifest(build).docs)


def _collections_of(build: Path | None) -> set[str]:
    if build is None:
        return set()
    manifest = read_manifest(build)
    return {n for n in (manifest.collection, manifest.sentence_collection) if n}


def _drop_stale_collections(client, prefix: str, keep: set[str | None]) -> None:
    """Server-side collections of builds that no longer exist (best effort: never fails an ingest)."""
    try:
        for name in client.list_collections():
            name = getattr(name, "name", name)
            if name.startswith(prefix + "-") and name not in keep:
                client.delete_collection(name)
    except Exception as exc:  # the server may be busy; stale collections are harmless
        log.warning("could not drop stale collections: %s", exc)


def _sha256(path: Path) -> str:
    from assistant.ingestion.pipeline import file_sha256

    try:
        return file_sha256(path.read_bytes())
    except OSError as exc:
        raise LoadError(f"无法读取文件（cannot read file: {exc.strerror}）") from exc


class _PassageCounter:
    """Applies the per-file passage limit (assistant/retrieval/cost.py): a rough count off the raw text
    refuses a huge new file before it is parsed, the exact one after, net of what the cache already
    holds (so a file indexed once, e.g. with a raised limit, is not refused when it is parsed again)."""

    def __init__(self, index_dir: Path, embedder: str, limit: int | None, sentence_vectors: bool) -> None:
        self.limit, self.embedder, self.sentence_vectors = limit, embedder, sentence_vectors
        self.rate = cost.embed_rate(embedder)  # for the time a refusal states
        self.cache = EmbeddingCache(index_dir / "embeddings.sqlite") if limit is not None else None

    def check_text(self, max_chars: int) -> Callable[[str], None] | None:
        if self.limit is None:
            return None
        return lambda text: cost.check_text(text, limit=self.limit, max_chars=max_chars, sentence_vectors=self.sentence_vectors, rate=self.rate)

    def check(self, parsed) -> None:
        if self.cache is None:
            return
        texts = [passage_text(c, parsed.meta.title) for c in parsed.clauses]
        sentences = [t for c in parsed.clauses for t in sentence_passages(c)] if self.sentence_vectors else []
        hashes = {text_hash(t) for t in texts + sentences}
        cached = len(texts) + len(sentences) - (len(hashes) - self.cache.count_known(self.embedder, hashes))
        cost.check_passages(len(texts), len(sentences), cached, limit=self.limit, rate=self.rate)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


class _Progress:
    """A tqdm bar opened once the number of passages to embed is known (cache hits excluded)."""

    def __init__(self, on_progress: Callable[[int, int], None] | None = None, bar: bool = True) -> None:
        self.bar = None
        self.show_bar = bar
        self.on_progress = on_progress
        self.done = self.total = 0

    def start(self, total: int) -> None:
        self.total = total
        if self.on_progress:
            self.on_progress(0, total)
        if total and self.show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="计算向量", unit="条", mininterval=0.5, dynamic_ncols=True)

    def update(self, n: int) -> None:
        self.done += n
        if self.on_progress:
            self.on_progress(self.done, self.total)
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(enabled: bool, on_progress: Callable[[int, int], None] | None = None) -> _Progress | None:
    return _Progress(on_progress, bar=enabled) if enabled or on_progress else None
