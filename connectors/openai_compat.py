"""``POST /v1/chat/completions`` (and ``GET /v1/models``) in the OpenAI format, for other chat front ends.

The last user message is the question; it goes through the same :class:`Responder` as IM messages
(conversation id ``openai:{user}``). The reply text ends with the numbered sources, and the
citations also come as structured data in an extra ``citations`` field (on the last chunk when
streaming). ``stream: true`` answers with server-sent events ending in ``data: [DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from assistant.domain import Answer
from assistant.errors import UnknownKnowledgeBase
from connectors import format as fmt
from connectors.base import IncomingMessage
from connectors.crypto import same
from connectors.gateway import Responder
from connectors.settings import ConnectorSettings

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
    user: str | None = None
    kb: str | list[str] | None = Field(None, description="Extension: limit the search to these knowledge bases.")


def chat_router(responder: Responder, settings: ConnectorSettings) -> APIRouter:
    router = APIRouter()
    keys = [k.get_secret_value() for k in settings.openai_api_keys]

    @router.get("/v1/models", response_model=None)
    async def models(request: Request) -> JSONResponse:
        """The one model, for front ends that list models before they chat."""
        if keys and not _authorized(request.headers.get("authorization", ""), keys):
            return _error(401, "invalid or missing API key", "invalid_api_key")
        model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "cs-knowledge-assistant"}
        return JSONResponse({"object": "list", "data": [model]})

    @router.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
        if keys and not _authorized(request.headers.get("authorization", ""), keys):
            return _error(401, "invalid or missing API key", "invalid_api_key")
        question = next((m.text().strip() for m in reversed(body.messages) if m.role == "user"), "")
        if not question:
            return _error(400, "no user message with text to answer", "invalid_request_error")
        kb_ids = [body.kb] if isinstance(body.kb, str) else body.kb
        message = _as_message(question, body.user, kb_ids)
        try:
            answer = await run_in_threadpool(responder.respond, message)
        except UnknownKnowledgeBase as exc:
            return _error(404, str(exc), "model_not_found")
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


def reply_text(answer: Answer, question: str) -> str:
    """The answer with its numbered sources, or the refusal as a helpful sentence."""
    lang = fmt.language_of(question)
    if not answer.answer.strip():
        return fmt.NOTICES[fmt.REFUSED][lang]
    if answer.refused:
        return answer.answer.strip()
    sources = fmt.sources_block(answer.citations, lang)
    return f"{answer.answer.strip()}\n\n{sources}" if sources else answer.answer.strip()


def _as_message(question: str, user: str | None, kb_ids: list[str] | None) -> IncomingMessage:
    who = user or "anonymous"
    return IncomingMessage(
        platform="openai", bot="default", message_id=uuid.uuid4().hex, chat_id=who, chat_type="p2p",
        sender_id=who, text=question, mentioned=True, kb_ids=tuple(kb_ids) if kb_ids is not None else None,
    )


def _extras(answer: Answer) -> dict[str, Any]:
    return {"refused": answer.refused, "citations": [c.model_dump() for c in answer.citations]}


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


def _authorized(header: str, keys: list[str]) -> bool:
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and any(same(token.strip(), k) for k in keys)


def _error(status: int, message: str, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}}, status)
