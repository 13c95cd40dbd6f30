"""What the HTTP server refuses before any handler runs, and how it says no.

- **Body size.** Multipart uploads may be as large as ``max_upload_bytes`` (the per-request cap);
  every other body is at most ``max_body_bytes``. A declared ``Content-Length`` over the cap is refused
  at once, and a chunked body is counted as it arrives and refused when it passes the cap: nothing
  is spooled to disk first.
- **Text that is not text.** JSON may spell an unpaired UTF-16 surrogate (``"\\ud800"``), which no
  database, index or response can store: such a body is a 400 naming the problem.
- **Validation errors** name the field and the rule, without echoing the input back (a 4,000-character
  question is not returned to its sender, nor a password).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Row ids and offsets in paths, queries and bodies: far beyond any real one, and within what a 64-bit
# database integer holds with room for ``id + 1``. A bigger one is refused (422) before it reaches
# the database, which would fail on it (a 500).
ROW_ID_MAX = 2**62
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]


class _TooLarge(Exception):
    pass


def _reply(status: int, detail: str) -> Callable[[Send], object]:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()

    async def send_it(send: Send) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return send_it


class BodyLimits:
    """ASGI middleware enforcing the size caps and refusing JSON that holds unpaired surrogates."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int):
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        multipart = content_type.startswith("multipart/")
        cap = self.max_upload if multipart else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _reply(413, _too_large(cap, multipart))(send)
            return
        if "json" in content_type:
            body, ok = await _read_all(receive, cap)
            if not ok:
                await _reply(413, _too_large(cap, multipart))(send)
                return
            problem = _unpaired_surrogate(body)
            if problem:
                await _reply(400, problem)(send)
                return
            await self.app(scope, _replay(body), send)
            return
        state = {"total": 0, "over": False, "started": False}
        refusal = _reply(413, _too_large(cap, multipart))

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["total"] += len(message.get("body", b""))
                if state["total"] > cap:
                    state["over"] = True
                    raise _TooLarge()  # the form parser turns this into its own error: replaced below
            return message

        async def watched_send(message: Message) -> None:
            if state["over"]:  # whatever the app answers to a cut-off body, the answer is 413
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await refusal(send)
                return
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not state["started"]:
                await refusal(send)


def _too_large(cap: int, multipart: bool) -> str:
    what = "an upload" if multipart else "a request body"
    return f"{what} may be at most {cap / 1024 / 1024:g} MB; send smaller files or fewer at once"


async def _read_all(receive: Receive, cap: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return b"", False
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts), True


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _unpaired_surrogate(body: bytes) -> str | None:
    if b"\\u" not in body and b"\\U" not in body:
        return None  # no escapes: raw UTF-8 cannot spell a surrogate
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the handler says so in its own words
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(exc.object[exc.start])
        return f"the JSON body holds an unpaired UTF-16 surrogate (\\u{code:04x}), which is not text; send valid UTF-16 pairs"
    return None


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field and what is wrong with it, without the input itself."""
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


def install(app: FastAPI, *, max_body_bytes: int, max_upload_bytes: int) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimits, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes)
