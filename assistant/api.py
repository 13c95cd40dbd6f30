"""The HTTP API (FastAPI). ``create_app`` is the composition root for the server process."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.domain import Answer
from assistant.errors import UnknownKnowledgeBase
from assistant.services import Services, make_ingestor

log = logging.getLogger(__name__)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="The question, in any language.")
    kb: str | list[str] | None = Field(None, description="Limit the search to these knowledge bases.")
    conversation_id: str | None = Field(None, description="Continue a conversation (follow-ups).")


def create_app(settings: Settings | None = None, *, load_demo: bool = False, url: str | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Services(settings)

    from assistant.api_documents import clear_uploads, documents_router
    from assistant.store.jobs import JobStore
    from ingest.worker import IngestWorker

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.lock.acquire(url=url)  # one process owns the data directory
        worker = IngestWorker(make_ingestor(services), JobStore(services.catalog.engine))
        app.include_router(documents_router(services, worker), tags=["knowledge bases"])
        try:
            clear_uploads(services)
            worker.start()  # marks jobs a dead process left behind as failed, sweeps orphans
            if load_demo and services.catalog.count_chunks() == 0:
                from ingest.demo import load_demo as load

                results = load(make_ingestor(services))
                failed = [r for r in results if r.status == "failed"]
                log.info("demo knowledge base loaded: %d files, %d failed", len(results), len(failed))
            services.default_pipeline  # load the models before the first request, not during it
            connectors.start()  # gateway workers and IM long connections
            yield
        finally:
            connectors.stop()
            worker.stop()
            services.close()

    app = FastAPI(
        title="Customer-service knowledge assistant",
        version="0.1.0",
        description="Answers from your SOPs and FAQs, with numbered sources.",
        lifespan=lifespan,
    )
    app.state.services = services

    from connectors.app import mount_connectors

    connectors = mount_connectors(app, services)  # IM callbacks and /v1/chat/completions

    @app.get("/healthz")
    def healthz() -> dict:
        return {
            "status": "ok",
            "chunks": services.catalog.count_chunks(),
            "answering": services.answer_chain.stats(),  # breaker states and backend switches
        }

    @app.post("/v1/ask", response_model=Answer)
    async def ask(request: AskRequest) -> Answer:
        kb_ids = [request.kb] if isinstance(request.kb, str) else request.kb
        try:
            return await run_in_threadpool(
                services.default_pipeline.ask,
                request.question,
                kb_ids=kb_ids,
                conversation_id=f"api:{request.conversation_id}" if request.conversation_id else None,
            )
        except UnknownKnowledgeBase as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    return app
