"""`assistant ask --batch` run as a user runs it: the real command in a subprocess (a real stdout, whose
encoder is what a lone surrogate broke), on real batch files with hostile lines among good ones."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from assistant.evaluation.questions import load_questions
from tests.conftest import ROOT

LEAD = "博士后集聚“双百”行动由谁牵头？"


def start_batch(index: Path, data: bytes, tmp_path: Path, name: str = "batch.jsonl") -> subprocess.Popen:
    path = tmp_path / name
    path.write_bytes(data)
    command = [sys.executable, "-m", "assistant.interfaces.cli", "ask", "--batch", str(path), "--json", "--index", str(index)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = proc.communicate(timeout=1800)  # a sanity bound, far above the minutes a busy machine needs
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def run_batch(index: Path, data: bytes, tmp_path: Path, name: str = "batch.jsonl") -> subprocess.CompletedProcess:
    return finish(start_batch(index, data, tmp_path, name))


def output_lines(proc: subprocess.CompletedProcess) -> list[dict]:
    """stdout as str.splitlines() cuts it (it also breaks on U+2028, U+0085 …): every line one JSON object."""
    text = proc.stdout.decode("utf-8")  # strict: the output is valid UTF-8
    return [json.loads(line) for line in text.splitlines()]


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows)


def test_invalid_utf8_bytes_are_replaced_and_their_line_named(plan_index, tmp_path):
    broken = b'{"question": "' + "博士后集聚".encode("utf-8") + b"\xff\xfe\xe5\xad" + "“双百”行动由谁牵头？".encode("utf-8") + b'"}\n'
    data = jsonl({"question": LEAD}) + broken + jsonl({"question": LEAD})
    proc = run_batch(plan_index, data, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = output_lines(proc)
    assert len(rows) == 3 and all("市委人才办" in r["answer"] for r in rows)
    assert "\ufffd" in rows[1]["question"]
    err = proc.stderr.decode("utf-8")
    assert "第 2 行" in err and "UTF-8" in err and "Traceback" not in err


def test_a_lone_surrogate_or_control_characters_never_end_the_batch(plan_index, tmp_path):
    lines = [
        '{"question": "\\ud800' + LEAD + '"}',  # a lone surrogate, as JSON writes it
        '{"question": "' + LEAD + '", "history": ["\\udfff"]}',
        '{"question": "\\u0000\\u001b[31m\\u2028\\u0085\\u2029' + LEAD + '"}',  # NUL, an escape sequence, line separators
        '{"question": "\\udbff\\u2028"}',
    ]
    proc = run_batch(plan_index, ("\n".join(lines) + "\n").encode("utf-8") + jsonl({"question": LEAD}), tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = output_lines(proc)
    assert len(rows) == 5, proc.stdout.decode()
    assert all("市委人才办" in r["answer"] for i, r in enumerate(rows) if i != 3)
    assert rows[3]["refused"] and "Traceback" not in proc.stderr.decode()
    assert "\ufffd" in rows[0]["question"]


def test_one_output_line_per_input_line_in_order(plan_index, tmp_path):
    data = b"".join(
        [
            jsonl({"question": LEAD}),
            b"not json at all\n",
            b"\n",  # a blank line is a line too
            jsonl({"question": 5}, ["a list"], {"question": LEAD, "history": "not a list"}, {"history": []}),
            b'{"question": "a\rb"}\n',  # a raw CR inside a line: not a line break, and not valid JSON
            jsonl({"question": "问" * 100_000}, {"question": "那配合单位呢？", "history": [LEAD]}),
            '{"question": "深化对台人才科创合作由谁牵头？"}'.encode("utf-8"),  # the last line has no newline
        ]
    )
    proc = run_batch(plan_index, data, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = output_lines(proc)
    assert len(rows) == 11
    assert "市委人才办" in rows[0]["answer"]
    for number in (2, 3, 4, 5, 6, 7, 8):
        row = rows[number - 1]
        assert set(row) == {"question", "error", "line"} and row["line"] == number and f"第 {number} 行" in row["error"], row
    assert rows[3]["question"] is None and rows[5]["question"] == LEAD  # the question is kept when the line had one
    assert rows[8]["refused"] and "问题太长" in rows[8]["answer"]
    assert "市教育局" in rows[9]["answer"]
    assert "市委台办" in rows[10]["answer"]
    assert set(rows[0]) == {"question", "answer", "refused", "citations", "latency_ms"}  # the stable schema


def _comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "latency_ms"}


HOSTILE_LINES = [
    lambda i: ('{"question": "\\ud83d' + f"第{i}个孤立代理" + '"}\n').encode("utf-8"),
    lambda i: b'{"question": "\xe5\xad\x90\xff\xfe\xfd' + str(i).encode() + b'"}\n',
    lambda i: b"\xff\xfe\x00{not json " + str(i).encode() + b"\n",
    lambda i: f"no json here {i}\n".encode(),
    lambda i: jsonl({"question": i}),
    lambda i: jsonl({"question": ["博士后"], "history": {"a": i}}),
    lambda i: jsonl({"question": "长" * 100_000 + str(i)}),
    lambda i: jsonl({"question": "\x00\x1b\u2028\u0085\u2029" * 50 + str(i)}),
    lambda i: jsonl({"question": "市委人才办牵头哪些工作？", "history": [None, 3, "ok"], "extra": {"deep": [1] * i}}),
    lambda i: jsonl([i, "array"]),
]
ERROR_KINDS = {2, 3, 4, 5, 9}  # the others are asked (with their bytes or characters repaired)


def test_a_batch_of_1000_lines_with_50_hostile_ones(plan_index, tmp_path, report_measurement):
    """950 dev-set questions (with their history) and 50 hostile lines at random places: exactly 1,000
    lines come out, in order, and every good line gets the answer a clean batch gives it."""
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    good = [jsonl({"question": q.question, "history": q.history}) for q in questions]
    rng = random.Random(14)
    hostile_at = set(rng.sample(range(1000), 50))
    lines, kinds = [], {}
    g = 0
    for n in range(1000):
        if n in hostile_at:
            kind = len(kinds) % len(HOSTILE_LINES)
            kinds[n] = kind
            lines.append(HOSTILE_LINES[kind](n))
        else:
            lines.append(good[g % len(good)])
            g += 1
    hostile = start_batch(plan_index, b"".join(lines), tmp_path, "hostile.jsonl")
    clean = start_batch(plan_index, b"".join(good), tmp_path, "clean.jsonl")  # each good line once, nothing hostile
    proc, clean = finish(hostile), finish(clean)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    rows = output_lines(proc)
    assert len(rows) == 1000
    assert "Traceback" not in proc.stderr.decode("utf-8", errors="replace")

    assert clean.returncode == 0
    expected = [_comparable(r) for r in output_lines(clean)]
    assert len(expected) == len(good)
    g = 0
    mismatched = []
    for n, row in enumerate(rows):
        if n in hostile_at:
            if kinds[n] in ERROR_KINDS:
                assert row["line"] == n + 1 and f"第 {n + 1} 行" in row["error"], row
            else:
                assert row["answer"] and "Traceback" not in row["answer"], row
            continue
        if _comparable(row) != expected[g % len(good)]:
            mismatched.append(n + 1)
        g += 1
    assert g == 950 and not mismatched, f"lines answered unlike the clean batch: {mismatched[:10]}"
    answered = sum(1 for r in rows if "answer" in r)
    report_measurement("batch_hostile", {"lines": len(rows), "hostile": len(hostile_at), "answered": answered, "error_lines": len(rows) - answered})
