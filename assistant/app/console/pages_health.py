"""The health page, for admins and knowledge managers: LLM backends and their breakers, the ERP's
reachability, the ingestion queue, the size of the indexes and the catalog, the IM connectors with
their gateway's counters, and the last warnings and errors of this process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assistant import __version__
from assistant.app.console.recent_errors import RecentErrors
from assistant.app.console.web import MANAGERS, Pages, Viewer
from assistant.app.settings import ERPSettings
from assistant.erp.client import ERPAddress

ERP_TIMEOUT = 1.5  # seconds: the page must not hang on an ERP that does not answer


@dataclass(frozen=True)
class BackendHealth:
    name: str
    state: str  # closed, open, half_open
    reason: str | None
    opened: int  # times the breaker opened
    calls: int  # in the breaker's window
    failures: int

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None


@dataclass(frozen=True)
class ErpHealth:
    shown: str  # the URL without credentials
    reachable: bool
    detail: str  # the HTTP status, or the kind of failure
    ms: float | None


@dataclass(frozen=True)
class IndexSize:
    kb: str
    documents: int
    chunks: int  # live, in the catalog
    vectors: int | None  # in the vector index (None: could not be read)


@dataclass(frozen=True)
class BotHealth:
    platform: str
    bot: str


def check_erp(settings: ERPSettings, timeout: float = ERP_TIMEOUT) -> ErpHealth | None:
    """One quick GET of the ERP's ``/healthz`` (any HTTP answer means it is reachable); None when no
    ERP is configured. Sends no credentials and names no secret."""
    if not settings.base_url:
        return None
    address = ERPAddress.parse(settings.base_url)
    if address.problem:
        return ErpHealth(address.shown, False, address.problem, None)
    started = time.perf_counter()
    try:
        response = httpx.get(f"{address.url}/healthz", timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        return ErpHealth(address.shown, False, exc.__class__.__name__, None)
    return ErpHealth(address.shown, True, f"HTTP {response.status_code}", (time.perf_counter() - started) * 1000)


def health_router(pages: Pages, errors: RecentErrors, connectors: Callable[[], Any]) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    services = pages.services

    def backends() -> tuple[list[BackendHealth], dict[str, int]]:
        stats = services.answer_chain.stats()
        found = [BackendHealth(name, b["state"], b.get("reason"), b.get("opened", 0), b.get("window_calls", 0),
                               b.get("window_failures", 0)) for name, b in stats["backends"].items()]
        return found, stats["counts"]

    def index_sizes() -> list[IndexSize]:
        chunks = services.catalog.chunk_counts()
        sizes = []
        for kb in services.catalog.list_kbs():
            try:
                vectors: int | None = services.vector.count(kb.name)
            except Exception:  # a missing collection or an unreachable Chroma server: say so, keep the page
                vectors = None
            sizes.append(IndexSize(kb.name, kb.documents, chunks.get(kb.name, 0), vectors))
        return sizes

    @router.get("/health")
    def health(request: Request, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        found, counts = backends()
        running = connectors()
        bots = [BotHealth(c.platform, c.bot) for c in running.registry] if running else []
        sizes = index_sizes()
        return pages.render(
            request, "health.html", viewer, active="health", version=__version__, settings=services.settings,
            backends=found, answer_counts=counts, erp=check_erp(services.settings.erp),
            jobs=services.jobs.status_counts(), sizes=sizes, keyword_count=services.keyword.count(),
            total_chunks=sum(s.chunks for s in sizes), total_documents=sum(s.documents for s in sizes),
            bots=bots, gateway=running.gateway.stats.as_dict() if running else {}, errors=errors.lines(),
        )

    return router
