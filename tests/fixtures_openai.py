"""A loopback fake of the OpenAI chat-completions API, for testing the LLM backend offline.

`FakeOpenAI` is a real HTTP server on 127.0.0.1 (a free port, in a daemon thread) that answers
POST /v1/chat/completions with scripted replies: plain JSON, or server-sent events when the
request asks for `"stream": true`. Every request body is recorded in `requests`, its headers in `headers`.

    with FakeOpenAI() as server:
        server.script(Reply("市委人才办牵头[1]。"))          # one reply per request, in order
        server.responder = lambda request: Reply(...)       # or computed from the request
"""
from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted response. `content=None` sends a null message content."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    chunk_chars: int = 6

    def pieces(self) -> list[str]:
        text = self.content or ""
        return [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)] or [""]


def completion(content: str | None, model: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunk(delta: dict, model: str, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.responder: Callable[[dict], Reply] | None = None
        self._queue: deque[Reply] = deque()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- scripting -------------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    def _next(self, request: dict) -> Reply:
        if self._queue:
            return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        return Reply(status=500, raw=b'{"error": {"message": "no scripted reply"}}')

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # wakes handlers sleeping in a timeout test
        self._server.shutdown()
        self._server.server_close()

    # -- HTTP ------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    request = {}
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                fake.requests.append(request)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = fake._next(request)
                if reply.delay and fake._stop.wait(reply.delay):
                    return
                try:
                    if reply.raw is not None or reply.status != 200:
                        self._send(reply.status, reply.raw if reply.raw is not None else b'{"error": {"message": "scripted failure"}}')
                    elif request.get("stream"):
                        self._stream(reply, request.get("model", "fake"))
                    else:
                        self._send(200, json.dumps(completion(reply.content, request.get("model", "fake")), ensure_ascii=False).encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, reply: Reply, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                events = [chunk({"role": "assistant", "content": ""}, model)]
                events += [chunk({"content": piece}, model) for piece in reply.pieces()]
                events.append(chunk({}, model, finish="stop"))
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def user_text(request: dict) -> str:
    """The text of the last user message of a recorded request."""
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    return ""


def system_text(request: dict) -> str:
    return "".join(m.get("content") or "" for m in request.get("messages", []) if m.get("role") == "system")
