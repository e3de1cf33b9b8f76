"""Typed data that crosses module boundaries."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ClauseKind = Literal["metadata", "preamble", "heading", "clause", "target", "paragraph", "attachment"]


class DocumentMeta(BaseModel):
    """A knowledge file's identity and the metadata from its front matter or portal header."""

    doc: str = Field(description="the file's stem")
    title: str
    path: str = ""
    sha256: str = ""
    fields: dict[str, str] = Field(default_factory=dict, description="文号, 发文单位, 级别, 状态 …")

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


class Clause(BaseModel):
    """One structural unit of a policy document (or one sentence window of a long one)."""

    doc: str
    clause_id: str = Field(description="readable and stable, e.g. 四.(二).5")
    heading_path: list[str] = Field(default_factory=list)
    text: str
    kind: ClauseKind = "clause"
    lead_units: list[str] = Field(default_factory=list)
    coop_units: list[str] = Field(default_factory=list)
    start: int = Field(0, description="offset of the text in the document body")
    end: int = 0
    window: int = Field(0, description="index of the sentence window; 0 when the clause is whole")
    windows: int = 1

    @property
    def title(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def key(self) -> str:
        """Unique id within a knowledge base."""
        suffix = f"#{self.window}" if self.windows > 1 else ""
        return f"{self.doc}::{self.clause_id}{suffix}"


class Indicator(BaseModel):
    """One numeric target, e.g. 有效高新技术企业 / 3500 / 家."""

    doc: str
    clause_id: str
    group: str
    indicator: str
    value: str
    unit: str
    sentence: str


class ParsedDocument(BaseModel):
    meta: DocumentMeta
    body: str = Field(description="the normalised text the clause offsets refer to")
    clauses: list[Clause]
    indicators: list[Indicator] = Field(default_factory=list)


class FileError(BaseModel):
    path: str
    message: str


class IngestReport(BaseModel):
    documents: int = 0
    clauses: int = 0
    passages: int = 0
    sentences: int = Field(0, description="sentence vectors in the build")
    new: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    embedded: int = Field(0, description="clause and sentence passages sent to the embedder (cache misses)")
    seconds: float = 0.0
    index_dir: str = ""
    build: str = ""
    embedder: str = Field("", description="the embedder whose vectors the build holds")
    notice: str = Field("", description="e.g. the knowledge base keeps the embedder it was built with, and how to switch")


class Citation(BaseModel):
    """A clause shown with an answer; `n` is the number its [n] markers use."""

    n: int
    doc: str
    clause_id: str
    title: str = Field(description="heading path")
    text: str = Field(description="the full text of the clause")
    score: float = 0.0
    doc_title: str = ""
    quotes: list[str] = Field(default_factory=list, description="sentences of the clause the answer quotes")


class Answer(BaseModel):
    question: str
    answer: str
    refused: bool = False
    citations: list[Citation] = Field(default_factory=list)
    latency_ms: float = 0.0
    intent: str = "general"
    resolved_question: str = Field("", description="the question after follow-up resolution")
    notice: str = ""
    clarify: bool = Field(False, description="the answer is a question back: the question points at nothing said before")
    listed: list[str] = Field(default_factory=list, description="doc::clause_id of the clauses the answer lists (其中 / 第二个 next turn)")

    def public(self) -> dict:
        """The stable JSON schema of `assistant ask --json` (evaluation tools depend on it); `clarify`
        is added, true, only when the answer asks which measure is meant."""
        out = {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.model_dump(include={"n", "doc", "clause_id", "title", "text", "score"}) for c in self.citations],
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.clarify:
            out["clarify"] = True
        return out
