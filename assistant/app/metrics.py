"""Prometheus metrics: the server's ``Telemetry`` (``assistant.telemetry``) in a registry of its own,
and ``GET /metrics`` to scrape it.

Every app builds its own ``CollectorRegistry`` (never the library's global one), so several apps in
one process (tests) count apart. What the code records as it works (asks, stages, LLM and ERP calls,
the IM gateway, ingestion, HTTP requests) lives in counters and histograms here; what is a state
rather than an event (index sizes per knowledge base, jobs waiting, breaker states, the gateway's
queue) is read when scraped, by :class:`ServiceState`.

Scraping needs no account from the machine itself (127.0.0.1 / ::1), like ``/healthz``; from
anywhere else it takes ``Authorization: Bearer <ASSISTANT_METRICS_TOKEN>``, as Prometheus' scrape
config can send. Note that a reverse proxy on the same machine makes every client look local: do
not forward ``/metrics`` through one.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from pydantic import SecretStr

from assistant import __version__
from assistant.domain import Answer
from assistant.telemetry import (
    ASK_SECONDS,
    ASKS,
    FAQ_HITS,
    MEASURES,
    REFUSALS,
    STAGE_SECONDS,
    Measure,
    label_values,
)

if TYPE_CHECKING:
    from assistant.app.container import Services

log = logging.getLogger(__name__)

HTTP_REQUESTS = Measure("assistant_http_requests", "counter",
                        "HTTP requests by front door (api, openai, im, console, ops), method, status and principal kind.",
                        ("door", "method", "status", "principal"))
HTTP_SECONDS = Measure("assistant_http_request_duration_seconds", "histogram",
                       "Time to answer one HTTP request, by front door.", ("door",),
                       (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
APP_MEASURES = (HTTP_REQUESTS, HTTP_SECONDS)

# The trace's stage timings (Trace.timings_ms) under the names the metrics use; "total" is the ask's.
STAGES = {"rewrite": "rewrite", "spelling": "spelling", "route": "route", "tools": "tools", "embed_query": "embed",
          "bm25": "bm25", "vector": "vector", "resolve": "resolve", "fuse": "fuse", "rerank": "rerank",
          "answer": "answer"}


class Metrics:
    """A ``Telemetry`` kept in a Prometheus registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._families: dict[str, Counter | Histogram] = {}
        for measure in (*MEASURES, *APP_MEASURES):
            self._families[measure.name] = _family(measure, self.registry)

    # -- Telemetry -------------------------------------------------------------------------------
    def count(self, measure: Measure, amount: float = 1.0, **labels: str) -> None:
        family = self._family(measure, labels)
        family.inc(amount)

    def observe(self, measure: Measure, value: float, **labels: str) -> None:
        family = self._family(measure, labels)
        family.observe(value)

    def totals(self, measure: Measure) -> dict[tuple[str, ...], float]:
        found: dict[tuple[str, ...], float] = {}
        for metric in self._families[measure.name].collect():
            for sample in metric.samples:
                if sample.name == f"{measure.name}_total":
                    found[tuple(sample.labels[name] for name in measure.labels)] = sample.value
        return found

    def _family(self, measure: Measure, labels: dict[str, str]) -> Any:
        family = self._families[measure.name]
        values = label_values(measure, labels)
        return family.labels(*values) if values else family

    # -- the server's own ------------------------------------------------------------------------
    def answered(self, door: str, answer: Answer) -> None:
        """One question answered through ``door``: its duration, its stages, refusal and FAQ match."""
        trace = answer.trace
        self.count(ASKS, door=door, refused=str(answer.refused).lower())
        if "total" in trace.timings_ms:
            self.observe(ASK_SECONDS, trace.timings_ms["total"] / 1000, door=door)
        for stage, ms in trace.timings_ms.items():
            if stage in STAGES:
                self.observe(STAGE_SECONDS, ms / 1000, stage=STAGES[stage])
        if answer.refused:
            self.count(REFUSALS, door=door, reason=trace.refusal or "other")
        elif trace.faq_match is not None:
            self.count(FAQ_HITS, door=door)

    def watch(self, collector: Collector) -> None:
        """Add a collector read at scrape time (its ``describe`` must not touch storage)."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _family(measure: Measure, registry: CollectorRegistry) -> Counter | Histogram:
    if measure.kind == "counter":
        return Counter(measure.name, measure.help, measure.labels, registry=registry)
    return Histogram(measure.name, measure.help, measure.labels, registry=registry, buckets=measure.buckets)


class ServiceState(Collector):
    """States read when scraped: index sizes per knowledge base, ingestion jobs by status, LLM
    breakers, the IM gateway's queue. A part that cannot be read now is left out of that scrape."""

    def __init__(self, services: "Services", gateway: Callable[[], Any]):
        self.services = services
        self.gateway = gateway  # a getter: the connectors are built after the metrics

    def describe(self) -> list[Metric]:
        return [m for m, _ in self._families()]  # names only: registering must not touch the storage

    def collect(self) -> Iterator[Metric]:
        for family, fill in self._families():
            try:
                fill(family)
            except Exception as exc:  # storage not open yet, or gone: this family is empty this time
                log.debug("metrics: %s not read: %s", family.name, type(exc).__name__)
                continue
            yield family

    def _families(self) -> list[tuple[Metric, Callable[[Any], None]]]:
        return [
            (GaugeMetricFamily("assistant_build_info", "The running version.", labels=["version"]),
             lambda f: f.add_metric([__version__], 1)),
            (GaugeMetricFamily("assistant_index_documents", "Documents per knowledge base.", labels=["kb"]),
             self._documents),
            (GaugeMetricFamily("assistant_index_chunks", "Live chunks per knowledge base.", labels=["kb"]),
             self._chunks),
            (GaugeMetricFamily("assistant_ingest_queue_depth", "Ingestion jobs by status (queued, running).",
                               labels=["status"]), self._queue),
            (GaugeMetricFamily("assistant_llm_breaker_state",
                               "1 for the state each LLM backend's circuit breaker is in (closed, half_open, open).",
                               labels=["backend", "state"]), self._breakers),
            (CounterMetricFamily("assistant_llm_breaker_opened", "Times each LLM backend's breaker opened.",
                                 labels=["backend"]), self._opened),
            (GaugeMetricFamily("assistant_im_queue_depth", "IM messages waiting for a gateway worker."),
             self._im_queue),
        ]

    def _documents(self, family: GaugeMetricFamily) -> None:
        for kb in self.services.catalog.list_kbs():
            family.add_metric([kb.name], kb.documents)

    def _chunks(self, family: GaugeMetricFamily) -> None:
        counts = self.services.catalog.chunk_counts()
        for kb in self.services.catalog.list_kbs():
            family.add_metric([kb.name], counts.get(kb.name, 0))

    def _queue(self, family: GaugeMetricFamily) -> None:
        counts = self.services.jobs.status_counts()
        for status in ("queued", "running"):
            family.add_metric([status], counts.get(status, 0))

    def _backends(self) -> list[Any]:
        # Only once the chain exists: a scrape must never be what builds the models.
        chain = self.services.__dict__.get("answer_chain")
        return chain.backends if chain is not None else []

    def _breakers(self, family: GaugeMetricFamily) -> None:
        for backend in self._backends():
            state = backend.breaker.state
            for name in ("closed", "half_open", "open"):
                family.add_metric([backend.name, name], 1 if state == name else 0)

    def _opened(self, family: CounterMetricFamily) -> None:
        for backend in self._backends():
            family.add_metric([backend.name], backend.breaker.opened)

    def _im_queue(self, family: GaugeMetricFamily) -> None:
        connectors = self.gateway()
        family.add_metric([], connectors.gateway.queued if connectors is not None else 0)


# -- access ---------------------------------------------------------------------------------------
def is_loopback(host: str | None) -> bool:
    """127.0.0.1, ::1 and the IPv4-mapped ::ffff:127.0.0.1; a name or nothing is not."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def may_scrape(request: Request, token: SecretStr | None) -> bool:
    if is_loopback(request.client.host if request.client else None):
        return True
    if token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = (token.get_secret_value() if isinstance(token, SecretStr) else str(token)).encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def metrics_router(metrics: Metrics, token: SecretStr | None) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def scrape(request: Request) -> Response:
        """Prometheus text format; from loopback, or with the metrics token."""
        if not may_scrape(request, token):
            detail = ("scraping /metrics from another machine takes Authorization: Bearer <ASSISTANT_METRICS_TOKEN>"
                      + ("" if token is not None else ", which is not set on this server"))
            return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
