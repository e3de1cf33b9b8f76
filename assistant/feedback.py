"""Feedback on answers (👍/👎 and comments), kept locally in SQLite.

One row per feedback event. Every write is its own committed transaction in WAL mode with
synchronous=FULL, so a row the UI has acknowledged survives the process being killed.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

Rating = Literal["up", "down", "none"]
FEEDBACK_FILE = "feedback.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        REAL    NOT NULL,
    question  TEXT    NOT NULL,
    answer    TEXT    NOT NULL,
    citations TEXT    NOT NULL,  -- JSON list of the cited clauses (n, doc, clause_id, title)
    rating    TEXT    NOT NULL CHECK (rating IN ('up', 'down', 'none')),
    comment   TEXT    NOT NULL DEFAULT ''
)
"""


class FeedbackRow(BaseModel):
    id: int
    ts: float
    question: str
    answer: str
    citations: list[dict]
    rating: Rating
    comment: str


def feedback_path(index_dir: Path, configured: str | Path | None = None) -> Path:
    """The configured path (the `feedback_db` setting), else beside the index: it is local data of
    this installation, like the index."""
    return Path(configured) if configured else Path(index_dir) / FEEDBACK_FILE


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: Gradio runs handlers on worker threads, and writes are rare.
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA synchronous=FULL")
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    def add(self, question: str, answer: str, citations: list[dict], rating: Rating, comment: str = "") -> int:
        """Store one feedback event; returns its id once committed."""
        if rating not in ("up", "down", "none"):
            raise ValueError(f"rating must be 'up', 'down' or 'none', not {rating!r}")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (ts, question, answer, citations, rating, comment) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), question, answer, json.dumps(citations, ensure_ascii=False), rating, comment.strip()),
            )
            return int(cursor.lastrowid)

    def rows(self) -> list[FeedbackRow]:
        with self._connect() as db:
            found = db.execute("SELECT id, ts, question, answer, citations, rating, comment FROM feedback ORDER BY id").fetchall()
        return [
            FeedbackRow(id=i, ts=ts, question=q, answer=a, citations=json.loads(c), rating=r, comment=m) for i, ts, q, a, c, r, m in found
        ]
