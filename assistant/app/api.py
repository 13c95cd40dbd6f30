"""The HTTP server: ``create_app`` wires the routers, the ingestion worker and the IM connectors.

The lifespan opens the storage (lock, migrations, indexes), creates the first admin on an empty
directory (saying its password once) and starts the connectors; the warm-up (``readiness.WarmUp``)
sweeps what a stopped writer left and audit rows past their retention, starts the ingestion worker,
loads the demo if asked and warms the models. ``assistant serve`` runs the warm-up in the background
(``warm_start``): the port opens at once, ``/readyz`` says when answers are ready, and a question
asked before then waits for it. Embedded in tests, the warm-up runs before the app takes requests.

``/metrics`` (``assistant/app/metrics.py``) answers loopback clients and holders of the metrics token;
every request is counted there and logged as one JSON line (``request_log.RequestLog``). Every route
but ``/healthz``, ``/readyz``, ``/metrics`` and sign-in takes a principal (``http_auth.Guard``): an
API key or a console session. IM callbacks carry their own proof (the platform's signature); their senders become
principals by the IM rules. The web console (``assistant/app/console``) serves its pages under
``/console`` (``/`` leads there) and sends anyone without a session to its sign-in page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path

from assistant import __version__
from assistant.app import http_limits
from assistant.app.asking import Asking, ImResponder
from assistant.app.auth import FirstRun
from assistant.app.console import mount_console
from assistant.app.container import Services
from assistant.app.http_auth import Guard, RequestIds, request_id
from assistant.app.curation import Curation, ImFeedback
from assistant.app.knowledge import KnowledgeBases
from assistant.app.metrics import ServiceState, metrics_router
from assistant.app.readiness import ModelLoader, WarmUp, warm_models
from assistant.app.request_log import RequestLog
from assistant.app.routes_admin import admin_router
from assistant.app.routes_audit import audit_router
from assistant.app.routes_documents import documents_router
from assistant.app.routes_feedback import feedback_router
from assistant.app.routes_rules import rules_router
from assistant.app.routes_sessions import sessions_router
from assistant.app.settings import Settings, load_settings
from assistant.domain import Answer, Principal, Turn
from assistant.errors import RateLimited, UnknownKnowledgeBase
from connectors.app import mount_connectors
from connectors.openai_compat import chat_router
from connectors.settings import load_bots_file
from ingest.worker import IngestWorker

log = logging.getLogger(__name__)
STAFF = ("admin", "knowledge_manager", "agent")
ASK_WAITS_FOR_WARM_UP_S = 60.0  # a question during warm-up waits this long for it, then gets a 503


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="The question, in any language.")
    kb: str | list[str] | None = Field(None, description="Limit the search to these knowledge bases.")
    conversation_id: str | None = Field(None, max_length=200,
                                        description="Continue a conversation (follow-ups); yours alone.")


def create_app(settings: Settings | None = None, *, load_demo: bool = False, url: str | None = None,
               warm_start: bool = False) -> FastAPI:
    settings = settings or load_settings()
    settings = settings.model_copy(update={"connectors": load_bots_file(settings.connectors)})
    services = Services(settings)
    knowledge = KnowledgeBases(services)
    guard = Guard(lambda: services.auth)
    asking = Asking(services, services.limiter)

    def load_demo_if_empty() -> None:
        if load_demo and services.catalog.count_chunks() == 0:
            from ingest.demo import load_bindings, load_demo as load

            loader.join()  # the demo is embedded with the embedder the loader is building
            results = load(services.ingestor())
            failed = [r for r in results if r.status == "failed"]
            log.info("demo knowledge base loaded: %d files, %d failed", len(results), len(failed))
            load_bindings(services.directory)

    worker_box: list[IngestWorker] = []

    def start_worker() -> None:
        if not settings.ingestion.server_worker:  # `assistant worker` processes take the jobs
            return
        if settings.models.embedder != "use":
            loader.join()  # the worker shares the questions' embedder, which the loader is building
        worker_box.append(IngestWorker(services.ingestor(background=True), services.jobs, lease_seconds=settings.ingestion.lease_seconds,
                                       telemetry=services.metrics))
        worker_box[0].start()

    # The model sessions load on a thread of their own from the moment the server starts: opening the
    # storage, the sweep and the pure-Python tables run meanwhile on the other core.
    loader = ModelLoader(services)

    warm_up = WarmUp(services, steps=[
        ("sweep", services.sweep),
        ("ingestion worker", start_worker),
        ("demo knowledge base", load_demo_if_empty),
        ("models", lambda: warm_models(services, loader)),  # load the models before the first request, not during it
    ])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loader.start()
        services.open(url=url)  # one process owns an embedded data directory
        console.start()  # its health page keeps the recent warnings and errors from here on
        try:
            first = services.auth.first_run(settings.storage.data_dir,
                                            settings.auth.admin_password.get_secret_value()
                                            if settings.auth.admin_password else None)
            if first is not None:
                _announce(first, url)
            if warm_start:  # the port opens now; /readyz turns 200 when the models answer
                warm_up.start()
            else:
                warm_up.run()
                if warm_up.error is not None:
                    raise warm_up.error
            connectors.start()  # gateway workers and IM long connections
            yield
        finally:
            connectors.stop()
            warm_up.wait(60)  # a step half done must not race the storage closing
            for worker in worker_box:
                if not worker.stop():  # still writing as the process ends: the next start compares every entry
                    services.lock.needs_full_sweep = True
            console.stop()
            services.close()

    app = FastAPI(
        title="Customer-service knowledge assistant",
        version=__version__,
        description="Answers from your SOPs and FAQs, with numbered sources. Send `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url=None,  # served below, to signed-in principals only
    )
    app.state.services = services
    app.state.warm_up = warm_up
    http_limits.install(app, max_body_bytes=int(settings.server.max_body_mb * 1024 * 1024),
                        max_upload_bytes=settings.server.max_request_upload_mb * 1024 * 1024)
    app.add_middleware(RequestLog, metrics=services.metrics)  # counted and logged, with the id set outside it
    app.add_middleware(RequestIds)
    app.include_router(metrics_router(services.metrics, settings.metrics_token))  # loopback, or the metrics token
    services.metrics.watch(ServiceState(services, lambda: getattr(app.state, "connectors", None)))
    app.include_router(
        documents_router(knowledge, guard, max_upload_bytes=settings.ingestion.max_upload_mb * 1024 * 1024),
        tags=["knowledge bases"],
    )
    curation = Curation(services, knowledge)
    im_feedback = ImFeedback(curation)  # reactions to the bots' replies (Feishu) are votes
    app.include_router(feedback_router(curation, guard))
    app.include_router(admin_router(services, guard, services.limiter))
    app.include_router(audit_router(services, guard))
    app.include_router(rules_router(services, guard))
    app.include_router(sessions_router(services, guard, lambda: app.state.connectors))

    console = mount_console(app, knowledge, asking, max_upload_bytes=settings.ingestion.max_upload_mb * 1024 * 1024,
                            connectors=lambda: getattr(app.state, "connectors", None))

    def staff(request: Request) -> bool:
        principal = guard.identify(request)
        return principal is not None and principal.role in STAFF

    connectors = mount_connectors(app, settings.connectors, lambda: services.default_pipeline,
                                  responder=ImResponder(asking), staff=staff,
                                  delivered=im_feedback.delivered, reacted=im_feedback.reacted,
                                  telemetry=services.metrics)

    def ask_openai(principal: Principal, question: str, *, kbs: Sequence[str] | None, label: str | None,
                   history: Sequence[Turn], request_id: str) -> Answer:
        return asking.ask(principal, question, channel="openai", kbs=kbs, history=history, request_id=request_id,
                          conversation=f"openai:{label}" if label else None)

    if settings.connectors.openai_compat:
        app.include_router(chat_router(guard.identify, ask_openai), tags=["openai-compatible"])

    @app.get("/healthz")
    def healthz(request: Request) -> dict:
        """Up or not, for anyone; counts and breaker states for signed-in staff."""
        body: dict = {"status": "ok", "version": __version__}
        if staff(request):
            body.update(chunks=services.catalog.count_chunks(), answering=services.answer_chain.stats())
        return body

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready to answer (models loaded, storage reachable): 200; else 503 naming what is missing."""
        report = warm_up.report()
        return JSONResponse(report.body(), status_code=200 if report.ready else 503)

    @app.post("/v1/ask", response_model=Answer)
    async def ask(body: AskRequest, request: Request, principal: Principal = Depends(guard.principal)) -> Answer:
        kb_ids = [body.kb] if isinstance(body.kb, str) else body.kb
        if not await run_in_threadpool(warm_up.wait, ASK_WAITS_FOR_WARM_UP_S):  # a question asked while starting waits
            raise HTTPException(status_code=503, detail="the models are still loading; try again shortly "
                                "(GET /readyz says when) / 模型仍在加载，请稍后再试", headers={"Retry-After": "5"})
        try:
            return await run_in_threadpool(
                asking.ask, principal, body.question, channel="api", kbs=kb_ids,
                conversation=f"api:{body.conversation_id}" if body.conversation_id else None,
                request_id=request_id(request),
            )
        except UnknownKnowledgeBase as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except RateLimited as exc:
            raise HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": "60"}) from exc

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Principal = Depends(guard.principal)) -> dict:
        return app.openapi()

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs(_: Principal = Depends(guard.principal)) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=app.title, swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    return app


def _announce(first: FirstRun, url: str | None) -> None:
    """Tell whoever started the server how to sign in: once, on the terminal, never in the log."""
    lines = [f"First start: created the administrator account '{first.username}'."]
    if first.password:
        lines.append(f"  password (shown this once, change it after signing in): {first.password}")
    else:
        lines.append("  password: the one in ASSISTANT_AUTH__ADMIN_PASSWORD")
    if first.cli_key_file:
        lines.append(f"  the command line's API key is in {first.cli_key_file} (readable by you only)")
    if url:
        lines.append(f"  sign in at {url}")
    print("\n".join(lines), file=sys.stderr, flush=True)
