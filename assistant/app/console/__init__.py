"""The web console: server-rendered pages (FastAPI + Jinja2) under ``/console``, with a few lines of
our own JavaScript for the live parts, every asset served from ``/console/static``.

    /                     -> the console when signed in, else its sign-in page
    /console/login        sign in (a form; the session cookie is the API's)
    /console/kbs          knowledge bases, their documents, uploads followed live, a document's chunks
    /console/ask          the ask / debug sandbox with the whole trace, and thumbs up / down on its answers
    /console/ask/replay   a pasted DingTalk / Feishu / WeCom callback replayed through the gateway, sent nowhere
    /console/sessions     live sessions from IM, the API and the OpenAI endpoint; one with every turn's trace
    /console/gaps         refused and voted-down questions, curated into FAQ entries or dismissed
    /console/health       LLM breakers, the ERP, the ingestion queue, index sizes, IM connectors, recent errors
    /console/audit        the audit log, filtered and exported
    /console/admin/...    users, departments, API keys, knowledge-base access, routing rules (and their tester)

Which page a role sees, how forms are protected and how text is translated: ``web.py`` and ``i18n.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from assistant.app.administration import Administration
from assistant.app.asking import Asking
from assistant.app.console.pages_account import account_router
from assistant.app.console.pages_admin import admin_router
from assistant.app.console.pages_ask import ask_router
from assistant.app.console.pages_audit import audit_router
from assistant.app.console.pages_feedback import feedback_router
from assistant.app.console.pages_health import health_router
from assistant.app.console.pages_knowledge import knowledge_router
from assistant.app.console.pages_replay import replay_router
from assistant.app.console.pages_rules import rules_router
from assistant.app.console.pages_sessions import sessions_router
from assistant.app.console.recent_errors import RecentErrors
from assistant.app.console.web import ANYONE, HERE, PageError, Pages, SignInRequired, with_query
from assistant.app.curation import Curation
from assistant.app.knowledge import KnowledgeBases


class Console:
    """The console's routes on an app, and what runs while the app does (the recent-errors log)."""

    def __init__(self, errors: RecentErrors):
        self.errors = errors

    def start(self) -> None:
        self.errors.install()

    def stop(self) -> None:
        self.errors.remove()


def mount_console(app: FastAPI, knowledge: KnowledgeBases, asking: Asking, *, max_upload_bytes: int,
                  connectors: Callable[[], Any]) -> Console:
    """Add the console's pages and static files to ``app``; ``connectors`` returns the running IM
    connectors (or None). Start the returned ``Console`` with the app, stop it after."""
    services = knowledge.services
    pages = Pages(services)
    errors = RecentErrors()
    administration = Administration(services, services.limiter)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(account_router(pages, administration))
    app.include_router(knowledge_router(pages, knowledge, max_upload_bytes=max_upload_bytes))
    app.include_router(ask_router(pages, asking))
    app.include_router(replay_router(pages, connectors))
    app.include_router(sessions_router(pages))
    app.include_router(feedback_router(pages, Curation(services, knowledge)))
    app.include_router(rules_router(pages))
    app.include_router(health_router(pages, errors, connectors))
    app.include_router(audit_router(pages))
    app.include_router(admin_router(pages, administration))

    @app.get("/console/{rest:path}", include_in_schema=False)
    def no_such_page(request: Request, rest: str) -> Response:
        pages.viewer(request, ANYONE)  # signed in first, like every page
        raise PageError(404, "error.no_page")

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(with_query("/console/login", next=exc.next_path), 303)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return pages.error(request, exc)

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(PageError, page_error)
    return Console(errors)
