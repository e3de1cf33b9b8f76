"""An OpenAI-compatible chat API (`/v1/chat/completions`, `/v1/models`), mounted beside the Gradio UI.

Clients built for OpenAI (the `openai` SDK, LangChain's `ChatOpenAI`, Open WebUI, Chatbox …) talk to
the assistant unchanged. The `messages` list gives the question (the last user message) and the history
(the earlier user messages: the assistant replays the dialogue from the questions alone). The answer
text keeps its [n] markers; the cited clauses travel in the extra field `references` (with `refused`,
`notice` and `clarify`) of the response, and of the final chunk of a stream.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answering.factory import Answerer, llm_configured, stream_answer
from assistant.models import Answer
from assistant.retrieval.index import IndexError_, NoIndexError

if TYPE_CHECKING:
    from assistant.interfaces.web import WebApp

log = logging.getLogger(__name__)

PREFIX = "/v1"
OWNER = "kunshan-policy-assistant"
EXTRACTIVE_MODEL = "kunshan-policy"
LLM_MODEL = "kunshan-policy-llm"
# The answer is extracted at once; a stream sends it sentence by sentence (a [n] marker is never split).
PIECES = re.compile(r"[^。；！？\n]*[。；！？\n]+|[^。；！？\n]+")


# -- request and response models ----------------------------------------------------------------------
class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls …: accepted and not used
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, max_tokens …: accepted; the answer is extracted, not sampled
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class Reference(BaseModel):
    """A cited clause: [n] in the answer text is reference n."""

    n: int
    doc: str
    clause_id: str
    title: str
    text: str
    score: float


class Extras(BaseModel):
    """The fields an OpenAI response does not have."""

    references: list[Reference]
    refused: bool
    notice: str
    clarify: bool


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(Extras):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    # only on the final chunk
    references: list[Reference] | None = None
    refused: bool | None = None
    notice: str | None = None
    clarify: bool | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = OWNER
    mode: Literal["extractive", "llm"]
    description: str
    documents: int = Field(description="documents in the knowledge base it answers from")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class APIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, ErrorBody(message=message, type=type_, code=code, param=param)


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse(error=body).model_dump(), status_code=status, headers=headers)


# -- pure helpers ---------------------------------------------------------------------------------------
def message_text(message: ChatMessage) -> str:
    """The text of a message: a string, or the text parts of a list (other parts are refused)."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise APIError(400, f"不支持的消息内容类型“{part.type}”：只接受文本。", code="unsupported_content", param="messages")
        parts.append(part.text)
    return "".join(parts)


def question_and_history(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """The last message is the question; the earlier user messages are the history (oldest first).
    System and assistant messages are not used: the answer comes from the knowledge base alone."""
    if messages[-1].role != "user":
        raise APIError(400, "最后一条消息应是用户的问题（role 为 user）。", code="invalid_messages", param="messages")
    texts = [message_text(m) for m in messages]
    history = [t for m, t in zip(messages[:-1], texts) if m.role == "user" and t.strip()]
    return texts[-1], history


def extras(answer: Answer) -> Extras:
    references = [Reference(**c.model_dump(include={"n", "doc", "clause_id", "title", "text", "score"})) for c in answer.citations]
    return Extras(references=references, refused=answer.refused, notice=answer.notice, clarify=answer.clarify)


def pieces(text: str) -> list[str]:
    return PIECES.findall(text) or [text]


def sse(data: BaseModel | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data.model_dump(exclude_none=True), ensure_ascii=False)
    return f"data: {payload}\n\n"


# -- the router -------------------------------------------------------------------------------------------
class OpenAIService:
    """The models the app offers and how each one answers."""

    def __init__(self, web: "WebApp", api_key: str | None, concurrency: int) -> None:
        self.web = web
        self.api_key = api_key
        self.created = int(time.time())
        self._slots = threading.BoundedSemaphore(concurrency)  # as many answers at once as the UI's queue
        self._extractive: Answerer | None = None

    def models(self) -> dict[str, ModelCard]:
        try:
            documents = len(self.web.index().docs)
        except IndexError_:
            documents = 0
        cards = [ModelCard(id=EXTRACTIVE_MODEL, created=self.created, mode="extractive", documents=documents,
                           description="昆山人才科创政策知识库：抽取式回答（不使用大模型），附引用条款")]
        if llm_configured(self.web.settings):
            cards.append(ModelCard(id=LLM_MODEL, created=self.created, mode="llm", documents=documents,
                                   description=f"昆山人才科创政策知识库：大模型 {self.web.settings.llm_model} 依据条款作答并核实，附引用条款"))
        return {c.id: c for c in cards}

    def answerer(self, model: str) -> Answerer:
        if model not in self.models():
            raise APIError(404, f"没有模型“{model}”；可用的模型：{'、'.join(self.models())}。", code="model_not_found", param="model")
        if model == LLM_MODEL or not self.web.llm:
            return self.web.assistant
        if self._extractive is None:  # LLM mode serves the UI; the extractive model is its own answerer
            from assistant.answering.service import Assistant

            self._extractive = Assistant(self.web.index_dir, self.web.settings)
        return self._extractive

    def check_key(self, request: Request) -> None:
        if not self.api_key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "缺少 API 密钥：请在请求头中提供 Authorization: Bearer <密钥>。", code="missing_api_key")
        if not secrets.compare_digest(token.strip().encode(), self.api_key.encode()):
            raise APIError(401, "API 密钥不正确。", code="invalid_api_key")

    def run(self, answerer: Answerer, question: str, history: list[str]) -> Answer:
        self.web._ready()
        with self._slots:
            try:
                return answerer.run(question, history)
            except NoIndexError as exc:
                raise APIError(503, str(exc), "server_error", code="knowledge_base_empty") from None
            except IndexError_ as exc:
                raise APIError(503, f"知识库索引不可用：{exc}", "server_error", code="index_unavailable") from None
            except Exception as exc:  # logged with its traceback; the client gets an OpenAI-style 500
                log.exception("answering failed")
                raise APIError(500, f"回答时出错（{type(exc).__name__}），请稍后重试。", "server_error", code="internal_error") from None

    def stream(self, answerer: Answerer, question: str, history: list[str], model: str) -> Iterator[str]:
        """SSE lines: the role, the text piece by piece, a final chunk with the references, [DONE]."""
        head = dict(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)
        yield sse(ChatCompletionChunk(**head, choices=[ChunkChoice(delta=Delta(role="assistant", content=""))]))
        try:
            if answerer is self.web.assistant and self.web.llm:
                answer = yield from self._stream_llm(answerer, question, history, head)
            else:
                answer = self.run(answerer, question, history)
                for piece in pieces(answer.answer):
                    yield sse(ChatCompletionChunk(**head, choices=[ChunkChoice(delta=Delta(content=piece))]))
        except APIError as exc:  # the status line is already sent: the error travels in the stream
            yield sse(json.dumps(ErrorResponse(error=exc.body).model_dump(), ensure_ascii=False))
            yield sse("[DONE]")
            return
        final = extras(answer).model_dump()
        yield sse(ChatCompletionChunk(**head, choices=[ChunkChoice(delta=Delta(), finish_reason="stop")], **final))
        yield sse("[DONE]")

    def _stream_llm(self, answerer: Answerer, question: str, history: list[str], head: dict) -> Iterator[str]:
        """The model's verified sentences as they arrive. When the model failed midway, the extractive
        answer follows the shown text (a stream cannot take text back); the notice says why."""
        self.web._ready()
        with self._slots:
            stream = stream_answer(answerer, question, history)
            try:
                for delta in stream:
                    yield sse(ChatCompletionChunk(**head, choices=[ChunkChoice(delta=Delta(content=delta))]))
            except IndexError_ as exc:
                raise APIError(503, f"知识库索引不可用：{exc}", "server_error", code="index_unavailable") from None
        answer = stream.answer
        if stream.replaced:
            shown = "".join(stream.deltas).strip()
            text = ("\n\n" if shown else "") + answer.answer
            yield sse(ChatCompletionChunk(**head, choices=[ChunkChoice(delta=Delta(content=text))]))
        return answer


def install(app: FastAPI, web: "WebApp", api_key: str | None, concurrency: int = 4) -> OpenAIService:
    """Add /v1 to `app` (before Gradio is mounted at /), with OpenAI-style error bodies."""
    service = OpenAIService(web, api_key, concurrency)
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(service.check_key)])

    @router.get("/models", response_model=ModelList)
    def list_models() -> ModelList:
        return ModelList(data=list(service.models().values()))

    @router.get("/models/{model_id}", response_model=ModelCard)
    def get_model(model_id: str) -> ModelCard:
        card = service.models().get(model_id)
        if card is None:
            raise APIError(404, f"没有模型“{model_id}”。", code="model_not_found", param="model")
        return card

    @router.post("/chat/completions", response_model=ChatCompletion, responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}})
    def chat_completions(body: ChatCompletionRequest) -> Any:
        answerer = service.answerer(body.model)
        question, history = question_and_history(body.messages)
        if body.stream:
            return StreamingResponse(service.stream(answerer, question, history, body.model), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        answer = service.run(answerer, question, history)
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=body.model,
            choices=[Choice(message=ResponseMessage(content=answer.answer))], **extras(answer).model_dump(),
        )

    app.include_router(router)

    def on_api(request: Request) -> bool:
        return request.url.path.startswith(PREFIX + "/")

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.body, headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI says 422; OpenAI's API (and its clients' error classes) say 400 for a malformed body
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {error.get('msg', '')}")
        first = exc.errors()[0] if exc.errors() else {}
        code = "invalid_json" if first.get("type") == "json_invalid" else "invalid_request"
        message = ("请求体不是有效的 JSON" if code == "invalid_json" else "请求格式不正确") + "（" + "；".join(problems) + "）"
        return error_response(400, ErrorBody(message=message, type="invalid_request_error", code=code))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if not on_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        message = {404: "没有这个接口。", 405: "这个接口不接受该请求方法。"}.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, ErrorBody(message=message, type="invalid_request_error", code=str(exc.status_code)))

    return service
