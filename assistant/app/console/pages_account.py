"""Signing in and out, the language switch, and where ``/`` and ``/console`` lead.

The sign-in form posts a user name and password to ``/console/login``; the session cookie it sets is
the API's (``auth.SESSION_COOKIE``), so the pages' scripts may call ``/v1`` with it. Before any
session exists the form is protected by a random token that must match its SameSite=Strict cookie.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant.app.administration import Administration, TooManySignIns, WrongPassword
from assistant.app.auth import SESSION_COOKIE
from assistant.app.console.i18n import LANGUAGES
from assistant.app.console.web import ANYONE, LANG_COOKIE, NAV, Pages, Viewer, local_path, same_origin
from assistant.app.http_auth import request_id

LOGIN_COOKIE = "console_login"
YEAR = 365 * 24 * 3600


def home_of(viewer: Viewer) -> str:
    """The first page the viewer's role may see."""
    for _, items in NAV:
        for item in items:
            if item.ready and viewer.may(item.roles):
                return item.href
    return "/console/ask"


def account_router(pages: Pages, administration: Administration) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    auth = pages.services.auth

    @router.get("/")
    def root(request: Request) -> RedirectResponse:
        return RedirectResponse("/console" if pages.signed_in(request) else "/console/login", 303)

    @router.get("/console")
    def console_home(request: Request) -> RedirectResponse:
        viewer = pages.signed_in(request)
        return RedirectResponse(home_of(viewer) if viewer else "/console/login", 303)

    def sign_in_page(request: Request, *, next_path: str, username: str = "", error: str = "",
                     status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = pages.render(request, "login.html", None, status=status, login_token=token,
                                next_path=next_path, username=username, error=error)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/console/login",
                            secure=request.url.scheme == "https", max_age=3600)
        return response

    @router.get("/console/login")
    def login_page(request: Request, next: str = "") -> Response:
        viewer = pages.signed_in(request)
        if viewer is not None:
            return RedirectResponse(local_path(next, home_of(viewer)), 303)
        return sign_in_page(request, next_path=local_path(next, ""))

    @router.post("/console/login")
    def login(request: Request, username: str = Form("", max_length=64), password: str = Form("", max_length=256),
              csrf: str = Form(""), next: str = Form("")) -> Response:
        t = pages.translator(request)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(csrf, expected) or not same_origin(request):
            return sign_in_page(request, next_path=local_path(next, ""), username=username,
                                error=t("login.expired"), status=403)
        try:
            principal = administration.sign_in(username, password, request_id=request_id(request))
        except TooManySignIns:
            return sign_in_page(request, next_path=local_path(next, ""), username=username,
                                error=t("login.too_many"), status=429)
        except WrongPassword:
            return sign_in_page(request, next_path=local_path(next, ""), username=username,
                                error=t("login.wrong"), status=401)
        response = RedirectResponse(local_path(next, "/console"), 303)
        response.set_cookie(SESSION_COOKIE, auth.session_cookie(principal), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=auth.session_seconds)
        response.delete_cookie(LOGIN_COOKIE, path="/console/login")
        return response

    @router.post("/console/logout")
    def logout(_: Viewer = Depends(pages.form(*ANYONE))) -> Response:
        response = RedirectResponse("/console/login", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/console/lang")
    def language(to: str = "zh", next: str = "") -> Response:
        response = RedirectResponse(local_path(next, "/console"), 303)
        if to in LANGUAGES:
            response.set_cookie(LANG_COOKIE, to, max_age=YEAR, samesite="lax")
        return response

    return router
