"""50 users at once through Gradio's queue: the real app on a loopback port, one gradio_client per
thread, a mix of real plan questions over the chat and the `ask` API. Every one must get its answer;
the latency figures go to test-artifacts/load.json and the run's summary."""
from __future__ import annotations

import html
import math
import re
import threading
import time

import pytest

from assistant.answering import messages as M
from assistant.evaluation.questions import load_questions
from tests.conftest import CLIENT_HTTPX, ROOT

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")


USERS = 50
# Dev-set questions of every kind: who leads / who helps a measure, what a department leads or helps
# with, the 2025 targets, what an applicant can get, the document's principles and metadata,
# follow-ups (with their earlier question), and questions the documents cannot answer (a refusal).
QUESTION_IDS = [
    "q001", "q045", "q070", "q109", "q154", "q171", "q023", "q057", "q146", "q190",
    "q002", "q046", "q071", "q110", "q155", "q135", "q024", "q058", "q147", "q172",
    "q003", "q047", "q072", "q111", "q156", "q136", "q025", "q059", "q148", "q192",
    "q004", "q048", "q073", "q112", "q157", "q173", "q026", "q060", "q149", "q139",
    "q005", "q049", "q074", "q113", "q158", "q027", "q006", "q061", "q075", "q159",
]
REFUSALS = [
    text for name, value in vars(M).items() if name.startswith(("NOT_IN_TEXT", "HOSTILE", "CLARIFY"))
    for text in (value.values() if isinstance(value, dict) else [value])
]
DEADLINE = 600  # seconds for all users together; a hung request fails the test instead of the run


@pytest.fixture()
def served_url(served) -> str:
    return served[1]


def _text(message: dict) -> str:
    content = message["content"]
    return "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _check(question, channel: str, result) -> str | None:
    """What is wrong with one user's answer, or None."""
    if channel == "ask":
        text = result["answer"]
        if not text.strip():
            return "empty answer"
        if not question.answerable:
            return None if result["refused"] else f"expected a refusal, got {text[:80]!r}"
        if result["refused"] or not result["citations"]:
            return f"refused={result['refused']} citations={len(result['citations'])}: {text[:80]!r}"
    else:
        chat, box = result
        turns = 2 * (1 + len(question.history))
        if len(chat) != turns or box != "":
            return f"{len(chat)} messages (expected {turns}), box={box!r}"
        bot = _text(chat[-1])
        text = _plain(bot)
        if not text.strip() or "kp-error" in bot:
            return f"no answer: {bot[:120]!r}"
        if not question.answerable:
            return None if any(r in text for r in REFUSALS) else f"expected a refusal, got {text[:80]!r}"
        if 'class="kp-card ' not in bot:
            return f"no citation cards: {text[:80]!r}"
    missing = [f for f in question.facts if f not in text]
    return f"missing {missing}: {text[:80]!r}" if missing else None


def _percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def test_50_concurrent_users_through_the_queue(served_url, report_measurement):
    from gradio_client import Client

    by_id = {q.id: q for q in load_questions(ROOT / "eval" / "questions.jsonl")}
    # alternate channels, shifted every row of ten so each kind of question goes both ways
    users = [(by_id[qid], "chat" if (i + i // 10) % 2 else "ask") for i, qid in enumerate(QUESTION_IDS[:USERS])]
    assert len(users) == USERS and len({q.id for q, _ in users}) == USERS
    assert {q.category for q, _ in users} >= {"lead", "reverse_lead", "target", "support", "followup", "unanswerable", "hostile"}

    start = threading.Barrier(USERS + 1, timeout=120)  # every client connected before anyone asks
    latencies: dict[int, list[float]] = {}
    problems: dict[int, str] = {}

    def user(i: int) -> None:
        question, channel = users[i]
        client = None
        try:
            try:
                client = Client(served_url, verbose=False, analytics_enabled=False, httpx_kwargs=CLIENT_HTTPX)
            except Exception:
                start.abort()  # nobody waits for a user who could not connect
                raise
            start.wait()
            times = []
            if channel == "ask":
                t0 = time.perf_counter()
                result = client.predict(question.question, list(question.history), api_name="/ask")
                times.append(time.perf_counter() - t0)
            else:  # the chat session keeps the conversation: earlier questions are asked first
                for q in [*question.history, question.question]:
                    t0 = time.perf_counter()
                    result = client.predict(q, api_name="/chat")
                    times.append(time.perf_counter() - t0)
            latencies[i] = times
            problem = _check(question, channel, result)
            if problem:
                problems[i] = problem
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its user
            problems[i] = f"{type(exc).__name__}: {exc}"
        finally:
            if client is not None:
                client.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True, name=f"user-{i}") for i in range(USERS)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass  # a user could not connect: the others stop, and the problems below say why
    began = time.perf_counter()
    for t in threads:
        t.join(max(0.0, began + DEADLINE - time.perf_counter()))
    wall = time.perf_counter() - began
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"{len(hung)} users got no answer within {DEADLINE} s: {hung[:5]}"
    final = [times[-1] for times in latencies.values()]  # each user's question (after any earlier turn)
    every = [t for times in latencies.values() for t in times]
    if final:  # the figures are worth having even when some users failed
        report_measurement("load", {
            "users": USERS,
            "answered": len(final),
            "errors": len(problems),
            "requests": len(every),
            "p50_s": round(_percentile(final, 50), 2),
            "p95_s": round(_percentile(final, 95), 2),
            "max_s": round(max(final), 2),
            "all_requests_p95_s": round(_percentile(every, 95), 2),
            "wall_s": round(wall, 2),
            "answers_per_s": round(len(every) / wall, 2),
        })
    report = {f"{users[i][0].id} /{users[i][1]}": p for i, p in sorted(problems.items())}
    assert not problems, f"{len(problems)} of {USERS} users failed: {report}"
    assert len(final) == USERS
