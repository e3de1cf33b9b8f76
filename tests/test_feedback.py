"""The feedback store under a kill -9 in the middle of its writes."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from assistant.feedback import FeedbackStore
from tests.conftest import ROOT

# Writes numbered rows as fast as it can (big answers, so a kill is likely to land inside a write) and
# prints each id once `add` has returned: a printed id is one the UI would have acknowledged.
WRITER = """
import sys
from assistant.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
i = 0
while True:
    row_id = store.add(f"q{i}", f"a{i}:" + "条款" * 20000, [{"n": 1, "clause_id": f"四.(二).{i}"}], ("up", "down", "none")[i % 3], f"c{i}")
    print(row_id, flush=True)
    i += 1
"""


def _expected(i: int) -> tuple:
    return (i + 1, f"q{i}", f"a{i}:" + "条款" * 20000, [{"n": 1, "clause_id": f"四.(二).{i}"}], ("up", "down", "none")[i % 3], f"c{i}")


def test_feedback_survives_kill_9_mid_write(tmp_path):
    db = tmp_path / "feedback.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acknowledged: list[int] = []
    deadline = time.time() + 120
    try:
        while len(acknowledged) < 150 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    acknowledged += [int(line) for line in rest.split()]  # ids printed before the kill but not yet read
    assert len(acknowledged) >= 150, err.decode()[-2000:]
    assert acknowledged == list(range(1, len(acknowledged) + 1))

    check = sqlite3.connect(db)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()
    rows = FeedbackStore(db).rows()
    # every acknowledged row, intact; at most the one write in flight at the kill on top
    assert len(acknowledged) <= len(rows) <= len(acknowledged) + 1
    assert [(r.id, r.question, r.answer, r.citations, r.rating, r.comment) for r in rows] == [_expected(i) for i in range(len(rows))]

    # and the store takes new writes after the crash
    store = FeedbackStore(db)
    new_id = store.add("after", "the crash", [], "up")
    assert new_id == len(rows) + 1 and store.rows()[-1].question == "after"
