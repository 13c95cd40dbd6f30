"""Principals for HTTP requests: an API key (``Authorization: Bearer``) or a console session cookie.

Every endpoint but health and sign-in depends on :meth:`Guard.principal`; write endpoints check the
knowledge base's department (``assistant.access``) or a role (:meth:`Guard.role`). Each request gets
an id (``X-Request-ID``, kept when the client sends a sane one) that also goes into its audit row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.app.auth import SESSION_COOKIE, Authenticator
from assistant.domain import Principal, Role

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNAUTHENTICATED = "sign in, or send Authorization: Bearer <API key>"


class Guard:
    def __init__(self, auth: Callable[[], Authenticator]):
        self._auth = auth  # a getter: the authenticator is built once the storage is open

    def identify(self, request: Request) -> Principal | None:
        auth = self._auth()
        principal = (auth.from_bearer(request.headers.get("authorization"))
                     or auth.from_session(request.cookies.get(SESSION_COOKIE)))
        if principal is not None:
            request.state.principal = principal  # the request log names its kind
        return principal

    def principal(self, request: Request) -> Principal:
        principal = self.identify(request)
        if principal is None:
            raise HTTPException(401, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        request.state.principal = principal
        return principal

    def role(self, *roles: Role) -> Callable[[Request], Principal]:
        def check(request: Request) -> Principal:
            principal = self.principal(request)
            if principal.role not in roles and not principal.is_admin:
                raise HTTPException(403, f"this takes the {' or '.join(roles)} role")
            return principal

        return check


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


class RequestIds:
    """ASGI middleware: an id per request, in ``request.state.request_id`` and the response headers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)
