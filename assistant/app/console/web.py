"""What every console page shares: who is signed in, the language, the form token, rendering, paging.

- **Who.** A page takes the console session cookie (``auth.SESSION_COOKIE``, the one ``/v1/auth/login``
  sets too) and nothing else; no session redirects to the sign-in page, a role the page is not for
  gets a 403 page. Knowledge bases follow ``assistant.access`` through the use cases: one the viewer
  may not read is a 404 page, as if it did not exist.
- **Forms.** Every POST carries the session's form token (``Authenticator.form_token``: an HMAC of
  the session cookie) in a hidden ``csrf`` field or an ``X-CSRF-Token`` header, and a browser's
  ``Origin``, when sent, must be this server. Another site can read neither the cookie nor the
  token, so it cannot make a signed-in browser change anything. The sign-in form, before any
  session, carries a random token that must match its SameSite=Strict cookie.
- **Pages.** Jinja2 templates (autoescaped) with every visible string from ``i18n``; responses carry a
  Content-Security-Policy allowing this server's own scripts, styles and connections only.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from assistant.app.audit_trail import Actor
from assistant.app.auth import SESSION_COOKIE
from assistant.app.console.i18n import LANGUAGES, Translator, pick_language
from assistant.app.container import Services
from assistant.app.http_auth import request_id
from assistant.domain import Principal, Role

HERE = Path(__file__).parent
LANG_COOKIE = "console_lang"
CHANNEL = "console"
PAGE_SIZE = 50
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ANYONE: tuple[Role, ...] = ("admin", "knowledge_manager", "agent", "customer")
STAFF: tuple[Role, ...] = ("admin", "knowledge_manager", "agent")
MANAGERS: tuple[Role, ...] = ("admin", "knowledge_manager")
ADMINS: tuple[Role, ...] = ("admin",)


@dataclass(frozen=True)
class NavItem:
    key: str  # the page's id and its label's message key (``nav.<key>``)
    href: str
    roles: tuple[Role, ...]
    ready: bool = True  # phase 2 pages have their place here and show once they exist


NAV: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    ("knowledge", (
        NavItem("kbs", "/console/kbs", STAFF),
        NavItem("gaps", "/console/gaps", MANAGERS),  # feedback, gaps and curation
    )),
    ("asking", (
        NavItem("ask", "/console/ask", ANYONE),
        NavItem("replay", "/console/ask/replay", MANAGERS),  # a pasted IM callback, replayed, sent nowhere
        NavItem("sessions", "/console/sessions", MANAGERS),  # live sessions (the sessions API's roles)
    )),
    ("operations", (
        NavItem("health", "/console/health", MANAGERS),
        NavItem("audit", "/console/audit", MANAGERS),
    )),
    ("administration", (
        NavItem("users", "/console/admin/users", ADMINS),
        NavItem("departments", "/console/admin/departments", ADMINS),
        NavItem("keys", "/console/admin/keys", ADMINS),
        NavItem("access", "/console/admin/access", ADMINS),
        NavItem("rules", "/console/admin/rules", MANAGERS),  # routing rules (knowledge managers read them)
    )),
)


class SignInRequired(Exception):
    """No console session: the page answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class PageError(Exception):
    """A page that cannot be shown: 403 (not for this role, or a bad form token), 404 (not there,
    or not readable by the viewer). ``message`` is a message key; ``detail`` an extra line."""

    def __init__(self, status: int, message: str, detail: str = ""):
        self.status, self.message, self.detail = status, message, detail


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page."""

    principal: Principal
    token: str  # the session's form token

    @property
    def role(self) -> Role:
        return self.principal.role

    def may(self, roles: Sequence[Role]) -> bool:
        return self.principal.is_admin or self.principal.role in roles


@dataclass(frozen=True)
class Paging:
    """One page of a long list: which page, how many in all, and links that keep the other filters."""

    page: int
    size: int
    total: int | None  # None when counting would cost too much (keyset paging: older / newer only)
    base: str  # the page's path with its filters
    next_url: str | None = None  # keyset paging

    @property
    def pages(self) -> int:
        return max(1, math.ceil((self.total or 0) / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def url(self, page: int) -> str:
        separator = "&" if "?" in self.base else "?"
        return f"{self.base}{separator}page={page}"


T = TypeVar("T")


def page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def slice_page(items: Sequence[T], page: int, base: str, size: int = PAGE_SIZE) -> tuple[Sequence[T], Paging]:
    """A page of a list already in memory (users, keys, chunks of one document)."""
    paging = Paging(page=page, size=size, total=len(items), base=base)
    return items[paging.offset:paging.offset + size], paging


def with_query(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(kept)}" if kept else path


def local_path(value: str | None, default: str = "/console") -> str:
    """``value`` if it is a path on this server (for ``next=`` redirects), else ``default``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else default


def same_origin(request: Request) -> bool:
    """True unless the browser says the request comes from a page of another origin."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


class Pages:
    """Builds the console's responses: the viewer of a request, its language, the rendered page."""

    def __init__(self, services: Services):
        self.services = services
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["when"] = when
        self.templates.env.globals["with_query"] = with_query

    # -- who and in which language ---------------------------------------------------------------
    def language(self, request: Request) -> str:
        return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))

    def translator(self, request: Request) -> Translator:
        return Translator(self.language(request))

    def signed_in(self, request: Request) -> Viewer | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = self.services.auth.from_session(cookie)
        if principal is None or cookie is None:
            return None
        request.state.principal = principal
        return Viewer(principal, self.services.auth.form_token(cookie))

    def viewer(self, request: Request, roles: Sequence[Role]) -> Viewer:
        viewer = self.signed_in(request)
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target if request.method == "GET" else "/console")
        if not viewer.may(roles):
            raise PageError(403, "error.forbidden")
        return viewer

    def page(self, *roles: Role) -> Callable[[Request], Viewer]:
        """A dependency: the viewer of a page for these roles (admins see every page)."""

        def dependency(request: Request) -> Viewer:
            return self.viewer(request, roles)

        return dependency

    def form(self, *roles: Role) -> Callable[[Request], Any]:
        """A dependency for a POST: the viewer, once the form token and the origin are checked."""

        async def dependency(request: Request) -> Viewer:
            viewer = self.viewer(request, roles)
            sent = request.headers.get("x-csrf-token")
            if sent is None and "form" in request.headers.get("content-type", ""):
                sent = (await request.form()).get("csrf")
            if not same_origin(request) or not hmac.compare_digest(str(sent or ""), viewer.token):
                raise PageError(403, "error.csrf")
            return viewer

        return dependency

    def actor(self, request: Request, viewer: Viewer) -> Actor:
        return Actor(viewer.principal, CHANNEL, request_id(request))

    # -- rendering -------------------------------------------------------------------------------
    def render(self, request: Request, template: str, viewer: Viewer | None, *, status: int = 200,
               active: str = "", **context: Any) -> HTMLResponse:
        t = self.translator(request)
        nav = [
            (section, [item for item in items if item.ready and viewer.may(item.roles)])
            for section, items in NAV
        ] if viewer else []
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = self.templates.TemplateResponse(request, template, {
            "t": t, "lang": t.lang, "languages": LANGUAGES, "viewer": viewer, "active": active,
            "nav": [(section, items) for section, items in nav if items], "here": here, **context,
        }, status_code=status, headers=SECURITY_HEADERS)
        return response

    def error(self, request: Request, error: PageError) -> HTMLResponse:
        return self.render(request, "error.html", self.signed_in(request), status=error.status,
                           message=error.message, detail=error.detail)
