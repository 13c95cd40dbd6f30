"""The HTTP server: ``create_app`` wires the routers, the ingestion worker and the IM connectors.

The lifespan opens the storage (lock, migrations, indexes), sweeps what a stopped writer left,
starts the ingestion worker, loads the demo if asked, warms the models, then starts the connectors.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant import __version__
from assistant.app.container import Services
from assistant.app.knowledge import KnowledgeBases
from assistant.app.routes_documents import documents_router
from assistant.app.settings import Settings, load_settings
from assistant.domain import Answer
from assistant.errors import UnknownKnowledgeBase
from connectors.app import mount_connectors
from connectors.settings import load_bots_file
from ingest.worker import IngestWorker

log = logging.getLogger(__name__)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="The question, in any language.")
    kb: str | list[str] | None = Field(None, description="Limit the search to these knowledge bases.")
    conversation_id: str | None = Field(None, description="Continue a conversation (follow-ups).")


def create_app(settings: Settings | None = None, *, load_demo: bool = False, url: str | None = None) -> FastAPI:
    settings = settings or load_settings()
    settings = settings.model_copy(update={"connectors": load_bots_file(settings.connectors)})
    services = Services(settings)
    knowledge = KnowledgeBases(services)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.open(url=url)  # one process owns an embedded data directory
        worker = IngestWorker(services.ingestor(), services.jobs)
        try:
            services.sweep()
            worker.start()
            if load_demo and services.catalog.count_chunks() == 0:
                from ingest.demo import load_demo as load

                results = load(services.ingestor())
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
        version=__version__,
        description="Answers from your SOPs and FAQs, with numbered sources.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(
        documents_router(knowledge, max_upload_bytes=settings.ingestion.max_upload_mb * 1024 * 1024),
        tags=["knowledge bases"],
    )
    connectors = mount_connectors(app, settings.connectors, lambda: services.default_pipeline)

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
