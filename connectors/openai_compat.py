"""``POST /v1/chat/completions`` (and ``GET /v1/models``) in the OpenAI format, for other chat front ends.

Every call needs ``Authorization: Bearer <API key>``: the key is the principal, so its role and
departments decide what is searched and what order details show. The last user message is the
question and the messages before it are the conversation (OpenAI clients send it whole). The ``user``
field is only a label inside the key's own namespace: with no earlier messages, ``user`` continues
that label's conversation kept on the server; with neither, nothing is remembered. The reply text ends
with the numbered sources, and the citations also come as structured data in an extra ``citations``
field (on the last chunk when streaming). ``stream: true`` answers with server-sent events ending in
``data: [DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from assistant.domain import Answer, Principal, Turn
from assistant.errors import RateLimited, UnknownKnowledgeBase
from connectors import format as fmt

MODEL = "cs-knowledge-assistant"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(None, max_length=200, description="A label for the conversation, within the key's own.")
    kb: str | list[str] | None = Field(None, description="Extension: limit the search to these knowledge bases.")


_REQUEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["messages"],
    "properties": {"model": {"type": "string"}, "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                   "stream": {"type": "boolean"}, "user": {"type": "string"},
                   "kb": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
}}}}}


class ChatAsk(Protocol):
    """Answers for a principal: the app's front door (permissions, rate limits, audit)."""

    def __call__(self, principal: Principal, question: str, *, kbs: Sequence[str] | None, label: str | None,
                 history: Sequence[Turn], request_id: str) -> Answer: ...


def chat_router(identify: Callable[[Request], Principal | None], ask: ChatAsk) -> APIRouter:
    """``identify`` turns a request's credentials into its principal (None: not signed in)."""
    router = APIRouter()

    @router.get("/v1/models", response_model=None)
    async def models(request: Request) -> JSONResponse:
        """The one model, for front ends that list models before they chat."""
        if identify(request) is None:
            return _error(401, "invalid or missing API key", "invalid_api_key")
        model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "cs-knowledge-assistant"}
        return JSONResponse({"object": "list", "data": [model]})

    @router.post("/v1/chat/completions", response_model=None, openapi_extra=_REQUEST_BODY)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        principal = identify(request)  # before the body is read: no key, nothing parsed
        if principal is None:
            return _error(401, "invalid or missing API key", "invalid_api_key")
        try:
            body = ChatRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                 for e in exc.errors(include_input=False, include_url=False))
            return _error(400, problems, "invalid_request_error")
        last = next((i for i in range(len(body.messages) - 1, -1, -1) if body.messages[i].role == "user"), None)
        question = body.messages[last].text().strip() if last is not None else ""
        if not question:
            return _error(400, "no user message with text to answer", "invalid_request_error")
        kb_ids = [body.kb] if isinstance(body.kb, str) else body.kb
        history = earlier_turns(body.messages[:last])
        try:
            answer = await run_in_threadpool(
                ask, principal, question, kbs=kb_ids, label=None if history else body.user, history=history,
                request_id=getattr(request.state, "request_id", ""),
            )
        except UnknownKnowledgeBase as exc:
            return _error(404, str(exc), "model_not_found")
        except RateLimited as exc:
            return _error(429, str(exc), "rate_limit_exceeded")
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        text = reply_text(answer, question)
        if body.stream:
            return StreamingResponse(
                _sse(completion_id, body.model, text, answer), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **_extras(answer),
            }
        )

    return router


def earlier_turns(messages: Sequence[ChatMessage], keep: int = 12) -> list[Turn]:
    """The client's own record of the conversation, as turns (system and tool messages left out)."""
    turns = [Turn(role="user" if m.role == "user" else "assistant", text=m.text().strip())
             for m in messages if m.role in ("user", "assistant") and m.text().strip()]
    return turns[-keep:]


def reply_text(answer: Answer, question: str) -> str:
    """The answer with its numbered sources, or the refusal as a helpful sentence."""
    lang = fmt.language_of(question)
    if not answer.answer.strip():
        return fmt.NOTICES[fmt.REFUSED][lang]
    if answer.refused:
        return answer.answer.strip()
    sources = fmt.sources_block(answer.citations, lang)
    return f"{answer.answer.strip()}\n\n{sources}" if sources else answer.answer.strip()


def _extras(answer: Answer) -> dict[str, Any]:
    return {"refused": answer.refused, "citations": [c.model_dump() for c in answer.citations],
            "answer_id": answer.answer_id}  # for POST /v1/feedback


def _sse(completion_id: str, model: str, text: str, answer: Answer) -> Iterator[str]:
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [choice], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(text):
        yield chunk({"content": piece})
    yield chunk({}, "stop", **_extras(answer))
    yield "data: [DONE]\n\n"


def _pieces(text: str, size: int = 32) -> Iterator[str]:
    """Line by line, long lines in runs of ``size`` characters (the answer is complete already)."""
    for line in text.splitlines(keepends=True):
        for i in range(0, len(line), size):
            yield line[i : i + size]


def _error(status: int, message: str, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}}, status)
