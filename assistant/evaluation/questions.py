"""Question files: the dev-set format (gold clauses + facts) and the span format (gold doc + answer span)."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field


class EvalQuestion(BaseModel):
    id: str
    question: str
    history: list[str] = Field(default_factory=list)
    category: str = "general"
    answerable: bool = True
    gold_clauses: list[str] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    gold_doc: str | None = None
    gold_answer: str | None = None


def question_from_row(row: dict, number: int) -> EvalQuestion:
    """One parsed line of either format; `number` (the line number) is the id when the row has none.
    Raises KeyError or pydantic's ValidationError on missing or mistyped fields."""
    if "doc" in row and "answer" in row:
        return EvalQuestion(
            id=str(row.get("id", number)), question=row["question"], category=row.get("category", "span"),
            gold_doc=row["doc"], gold_answer=row["answer"], answerable=True,
        )
    return EvalQuestion.model_validate({"id": str(row.get("id", number)), **{k: v for k, v in row.items() if k != "id"}})


def load_questions(path: Path) -> list[EvalQuestion]:
    """Either format, detected per line: {"gold_clauses", "facts"} or {"doc", "answer"}."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            out.append(question_from_row(json.loads(line), number))
    return out
