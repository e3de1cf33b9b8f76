"""The OpenAI-compatible API, against the real app process (`python app.py` on a free loopback port),
with the real `openai` client and LangChain's `ChatOpenAI`."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PLAN, ROOT, free_port, stop_process

httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

KEY = "sk-test-kunshan-0123456789"
LEAD_Q = "博士后集聚“双百”行动由谁牵头？"
FOLLOW_Q = "那配合单位呢？"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MARKER = re.compile(r"\[(\d+)\]")


def start_app(tmp: Path, index: Path, port: int, **env_extra: str) -> tuple[subprocess.Popen, Path]:
    kb = tmp / "kb"
    kb.mkdir(exist_ok=True)
    shutil.copy(PLAN, kb)
    env = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_API_KEY", "ASSISTANT_HOST")}
    env.update(
        ASSISTANT_INDEX_DIR=str(index),
        ASSISTANT_KNOWLEDGE_DIR=str(kb),
        ASSISTANT_FEEDBACK_DB=str(tmp / "feedback.sqlite"),
        ASSISTANT_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        **env_extra,
    )
    log = tmp / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


@pytest.fixture(scope="module")
def app_url(plan_index, tmp_path_factory) -> Iterator[str]:
    """The app, with an API key set, started as `python app.py`; yields its /v1 base URL."""
    tmp = tmp_path_factory.mktemp("openai-app")
    index = tmp / "index"
    shutil.copytree(plan_index, index)
    port = free_port()
    proc, log = start_app(tmp, index, port, ASSISTANT_API_KEY=KEY)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180  # a sanity bound for a busy machine, not a speed requirement
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                request = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"})
                with NO_PROXY.open(request, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the app did not serve /v1/models\n" + log.read_text()
            time.sleep(0.3)
        yield base
    finally:
        stop_process(proc)


@pytest.fixture()
def client(app_url):
    with httpx.Client(trust_env=False, timeout=120) as http:
        yield openai.OpenAI(base_url=app_url, api_key=KEY, http_client=http, max_retries=0)


def post(url: str, body: bytes, key: str | None = KEY) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with NO_PROXY.open(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def assert_markers_match(text: str, references: list[dict]) -> None:
    numbers = {int(n) for n in MARKER.findall(text)}
    assert numbers, f"no [n] marker in {text!r}"
    assert numbers <= {r["n"] for r in references}


def test_models_lists_the_knowledge_base(client):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids == ["kunshan-policy"]  # extractive only: no LLM is configured
    card = models.data[0]
    assert card.model_extra["mode"] == "extractive" and card.model_extra["documents"] == 1
    assert client.models.retrieve("kunshan-policy").id == "kunshan-policy"


def test_openai_client_gets_a_cited_answer_with_history(client):
    reply = client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": LEAD_Q}])
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    text = reply.choices[0].message.content
    assert "市委人才办" in text
    extra = reply.model_extra
    assert extra["refused"] is False and extra["clarify"] is False and extra["notice"] == ""
    assert any(r["clause_id"] == "四.(二).5" for r in extra["references"])
    assert set(extra["references"][0]) == {"n", "doc", "clause_id", "title", "text", "score"}
    assert_markers_match(text, extra["references"])

    # the history: the follow-up is about the same measure (the assistant's turn and a system prompt are not used)
    follow = client.chat.completions.create(model="kunshan-policy", messages=[
        {"role": "system", "content": "你是政策助手。"},
        {"role": "user", "content": LEAD_Q},
        {"role": "assistant", "content": text},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_Q}]},
    ])
    assert "市教育局" in follow.choices[0].message.content
    assert follow.model_extra["references"][0]["clause_id"] == "四.(二).5"
    # without the history the same words point at nothing
    alone = client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": FOLLOW_Q}])
    assert "市教育局" not in alone.choices[0].message.content


def test_openai_client_streams_the_same_answer(client):
    whole = client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": LEAD_Q}])
    chunks = list(client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": LEAD_Q}], stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 2, "the answer should arrive in several chunks"
    assert "".join(pieces) == whole.choices[0].message.content
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert [r["clause_id"] for r in final.model_extra["references"]] == [r["clause_id"] for r in whole.model_extra["references"]]
    assert final.model_extra["refused"] is False
    assert all("references" not in (c.model_extra or {}) for c in chunks[:-1])

    # streamed with history
    follow = client.chat.completions.create(model="kunshan-policy", stream=True, messages=[
        {"role": "user", "content": LEAD_Q}, {"role": "assistant", "content": "……"}, {"role": "user", "content": FOLLOW_Q}])
    chunks = list(follow)
    assert "市教育局" in "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].model_extra["references"][0]["clause_id"] == "四.(二).5"


def test_stream_is_server_sent_events_ending_with_done(app_url):
    """The raw wire format: `data: {...}` events, the last one `data: [DONE]`."""
    body = json.dumps({"model": "kunshan-policy", "stream": True, "messages": [{"role": "user", "content": LEAD_Q}]}).encode()
    request = urllib.request.Request(f"{app_url}/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    with NO_PROXY.open(request, timeout=120) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = [e for e in raw.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    final = json.loads(events[-2][len("data: "):])
    assert final["choices"][0]["finish_reason"] == "stop" and final["references"]


def test_refusal_travels_in_the_response(client):
    reply = client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": "昆山的房价明年会涨吗？"}])
    assert reply.model_extra["refused"] is True and reply.choices[0].message.content


def test_langchain_chat_openai_streaming_and_not(app_url):
    lc = pytest.importorskip("langchain_openai")
    from langchain_core.messages import AIMessage, HumanMessage

    with httpx.Client(trust_env=False, timeout=120) as http:
        llm = lc.ChatOpenAI(model="kunshan-policy", base_url=app_url, api_key=KEY, http_client=http, max_retries=0)
        reply = llm.invoke([HumanMessage(LEAD_Q)])
        assert "市委人才办" in reply.content and MARKER.search(reply.content)
        history = [HumanMessage(LEAD_Q), AIMessage(reply.content), HumanMessage(FOLLOW_Q)]
        assert "市教育局" in llm.invoke(history).content
        streamed = list(llm.stream(history))
        assert len([c for c in streamed if c.content]) >= 2
        text = "".join(c.content for c in streamed)
        assert "市教育局" in text and MARKER.search(text)


def test_errors_are_openai_style(app_url, client):
    # unknown model: 404
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": LEAD_Q}])
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "model_not_found" and "kunshan-policy" in caught.value.body["message"]

    # a body that is not JSON, one without messages, one ending with the assistant's turn: 400
    url = f"{app_url}/chat/completions"
    for body, code in ((b"{not json", "invalid_json"), (b'{"model": "kunshan-policy"}', "invalid_request"),
                       (json.dumps({"model": "kunshan-policy", "messages": []}).encode(), "invalid_request"),
                       (json.dumps({"model": "kunshan-policy", "messages": [{"role": "wizard", "content": "x"}]}).encode(), "invalid_request"),
                       (json.dumps({"model": "kunshan-policy", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}).encode(), "invalid_messages")):
        status, payload = post(url, body)
        assert status == 400, (body, payload)
        assert set(payload) == {"error"} and payload["error"]["type"] == "invalid_request_error" and payload["error"]["code"] == code
        assert re.search(r"[\u4e00-\u9fff]", payload["error"]["message"])  # said in Chinese
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="kunshan-policy", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])

    # missing and wrong key: 401
    for key, code in ((None, "missing_api_key"), ("sk-wrong", "invalid_api_key")):
        status, payload = post(url, json.dumps({"model": "kunshan-policy", "messages": [{"role": "user", "content": LEAD_Q}]}).encode(), key)
        assert status == 401 and payload["error"]["code"] == code
    with httpx.Client(trust_env=False, timeout=60) as http:
        wrong = openai.OpenAI(base_url=app_url, api_key="sk-wrong", http_client=http, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()


def test_the_gradio_ui_is_served_beside_the_api(app_url):
    with NO_PROXY.open(app_url.removesuffix("/v1") + "/", timeout=60) as response:
        assert response.status == 200 and "<html" in response.read().decode().lower()


def test_open_api_on_another_address_is_refused(plan_index, tmp_path):
    """Bound beyond loopback without a key the app does not start (and builds nothing)."""
    proc, log = start_app(tmp_path, tmp_path / "no-index", free_port(), ASSISTANT_HOST="0.0.0.0")
    try:
        assert proc.wait(timeout=120) == 2
    finally:
        stop_process(proc)
    assert "ASSISTANT_API_KEY" in log.read_text() and not (tmp_path / "no-index").exists()


def test_no_key_needed_on_loopback(served):
    """The in-process app (no key set, 127.0.0.1) answers /v1 without one."""
    _, url = served
    status, payload = post(url + "v1/chat/completions", json.dumps({"model": "kunshan-policy", "messages": [{"role": "user", "content": LEAD_Q}]}).encode(), key=None)
    assert status == 200 and "市委人才办" in payload["choices"][0]["message"]["content"]
