"""Warm start and readiness: the server answers ``/healthz`` as soon as its port is open, and
``/readyz`` says when it can answer questions.

Launching a server used to wait for the models (and the demo knowledge base) before the port opened.
``WarmUp`` does that work on a thread of its own after the storage is open: it sweeps leftovers,
starts the ingestion worker, loads the demo if asked, builds the answering pipeline and runs its model
stages on one Chinese and one English question, so that every lazily built part (segmenter, spelling corrector,
embedder, cross-encoder) is built before the first real question rather than during it. It writes
no answer, so no LLM backend is called.

``/readyz`` is 200 only when that has finished and the storage answers now (a database round trip,
the keyword and vector indexes counted); otherwise 503 listing what is missing. Breaker states of
the LLM backends are in the body either way: an open breaker degrades answers (extractive only), it
does not make the server unready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from assistant.app.container import Services

log = logging.getLogger(__name__)

# Asked once after the models load, so that the first real question finds everything built.
WARM_QUESTIONS = ("发票怎么开？", "How do I get a refund?")


@dataclass
class ReadinessReport:
    ready: bool
    missing: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    breakers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", "missing": self.missing,
                "checks": self.checks, "breakers": self.breakers}


class WarmUp:
    """Runs the slow part of a server's start in the background and remembers how far it got.

    ``steps`` run in order after the built-in sweep; a step that fails is logged and named in
    ``/readyz`` (the server stays up: ``/healthz`` is still alive, and a restart is the operator's call).
    """

    def __init__(self, services: Services, *, steps: list[tuple[str, Callable[[], None]]]):
        self.services = services
        self.steps = steps
        self.done = threading.Event()
        self.failed: str | None = None
        self.error: Exception | None = None  # what stopped it, for a caller that runs it in the foreground
        self.seconds: float | None = None
        self._current = "waiting to start"
        self.step_seconds: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="warm-up", daemon=True)
        self._thread.start()

    def run(self) -> None:
        started = time.perf_counter()
        try:
            for name, step in self.steps:
                self._current = name
                t0 = time.perf_counter()
                step()
                self.step_seconds[name] = round(time.perf_counter() - t0, 2)
            self._current = "done"
        except Exception as exc:  # the server keeps running; /readyz names the step that failed
            self.failed = f"{self._current}: {type(exc).__name__}: {exc}"
            self.error = exc
            log.exception("warm-up failed at %s", self._current)
        finally:
            self.seconds = time.perf_counter() - started
            self.done.set()
            if self.failed is None:
                log.info("ready to answer after %.1f s of warm-up", self.seconds)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def report(self) -> ReadinessReport:
        """What ``/readyz`` says: models, storage, breakers."""
        missing: list[str] = []
        checks: dict[str, Any] = {}
        if not self.done.is_set():
            missing.append(f"models: still warming up ({self._current})")
            checks["models"] = "loading"
        elif self.failed:
            missing.append(f"models: warm-up failed at {self.failed}")
            checks["models"] = "failed"
        else:
            checks["models"] = "loaded"
            checks["warm_up_s"] = round(self.seconds or 0.0, 2)
            checks["warm_up_steps_s"] = self.step_seconds
        for name, probe in (("database", self._database), ("keyword_index", self._keyword),
                            ("vector_index", self._vector)):
            try:
                checks[name] = probe()
            except Exception as exc:  # any failure of a store means no answers
                checks[name] = "unreachable"
                missing.append(f"{name}: {type(exc).__name__}")
        breakers: dict[str, str] = {}
        if checks["models"] == "loaded":  # the chain exists once warm; reading it earlier would build it here
            breakers = {name: b["state"] for name, b in self.services.answer_chain.stats()["backends"].items()}
        return ReadinessReport(ready=not missing, missing=missing, checks=checks, breakers=breakers)

    def _database(self) -> str:
        with self.services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"

    def _keyword(self) -> int:
        return self.services.keyword.count()

    def _vector(self) -> int:
        kbs = self.services.catalog.list_kbs()
        return sum(self.services.vector.count(kb.name) for kb in kbs)


class ModelLoader:
    """Loads the two model sessions (embedder, cross-encoder) on a thread of their own, from the start
    of the server's lifespan: onnxruntime builds its sessions outside the GIL, so the steps that run
    meanwhile (the sweep, opening the indexes, the segmenter and pinyin tables, all pure Python) use
    the other core. Until ``join`` returns, nothing else may touch ``services.embedder`` or
    ``services.reranker``; a failure on the thread surfaces again when they are next asked for."""

    def __init__(self, services: Services):
        self.services = services
        self._thread = threading.Thread(target=self._load, name="load-models", daemon=True)

    def start(self) -> None:
        """Start loading (once: a second call, from an app started again, does nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def join(self) -> None:
        """Wait for the loading to end (at once when it never started)."""
        if self._thread.ident is not None:
            self._thread.join()

    def _load(self) -> None:
        try:
            self.services.embedder  # noqa: B018
            self.services.reranker  # noqa: B018
        except Exception as exc:  # asked again after the join, where the error is reported
            log.debug("loading the models failed on the loader thread: %s", type(exc).__name__)


def warm_models(services: Services, loader: ModelLoader | None = None) -> None:
    """Build the default pipeline and run its model stages once per language: spelling, retrieval
    (segmenter, embedder, indexes) and the cross-encoder. No answer is written, so no LLM is called.
    With a started ``loader``, the pure-Python parts load here while it loads the model sessions."""
    services.answerability  # noqa: B018 - loads the refusal judge
    if services.spelling is not None:
        for question in WARM_QUESTIONS:
            services.spelling.run(question)
    if loader is not None:
        loader.join()
    pipeline = services.default_pipeline
    kbs = [kb.name for kb in services.catalog.list_kbs()]
    for question in WARM_QUESTIONS:
        hits = pipeline.retriever.retrieve(question, kb_ids=kbs, k=pipeline.rerank_depth).hits
        if pipeline.reranker.can_judge(question):
            pipeline.reranker.rerank(question, hits, len(hits))
