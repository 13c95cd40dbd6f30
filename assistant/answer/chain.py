"""The answering chain: primary LLM -> secondary LLM -> extractive, each model behind a circuit breaker.

Before any model is called the evidence is measured (the extractive answerer's check): weak
retrieval and no tool result means a refusal with no model call at all. A backend that fails,
stalls or is slower than the threshold opens its breaker, and the next question skips it until a
cool-down has passed; then one probe call decides whether it closes again. A generated answer with
no supported sentence falls back to the extractive answer. Every switch is logged and counted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm import Completion, LLMAnswerer, LLMError, ModelDeclined, UnsupportedAnswer
from assistant.domain import Answer, Citation, Hit, Trace
from assistant.errors import AssistantError
from assistant.text.normalize import detect_language
from assistant.tools.base import ToolResult
from assistant.tools.stage import knowledge_query

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"


class AllBackendsDown(AssistantError):
    """Every model backend failed or has its breaker open."""


class CircuitBreaker:
    """Closed -> open (too slow once, or too many errors in the window) -> half-open after the cool-down
    (one probe call) -> closed on success, open again on failure. Thread-safe."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        name: str,
        *,
        slow_seconds: float = 8.0,
        error_rate: float = 0.05,
        window_seconds: float = 60.0,
        min_calls: int = 1,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.slow_seconds = slow_seconds
        self.error_rate = error_rate
        self.window_seconds = window_seconds
        self.min_calls = min_calls
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._opened_at = 0.0
        self._probing = False
        self._window: deque[tuple[float, bool]] = deque()  # (when, failed)
        self.reason = ""
        self.opened = 0  # times it opened

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def allow(self) -> bool:
        """May a call go to this backend now? In half-open, only one probe at a time."""
        with self._lock:
            self._maybe_half_open()
            if self._state == self.CLOSED:
                return True
            if self._state == self.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, ok: bool, seconds: float) -> None:
        """The outcome of an allowed call: failed or not, and how long it took."""
        with self._lock:
            slow = seconds > self.slow_seconds
            failed = not ok or slow
            if self._state == self.HALF_OPEN:
                self._probing = False
                if failed:
                    self._open("probe failed" if not ok else f"probe took {seconds:.1f} s")
                else:
                    self._state, self.reason = self.CLOSED, ""
                    self._window.clear()
                    log.info("circuit breaker %s closed: probe succeeded", self.name)
                return
            now = self._clock()
            self._window.append((now, failed))
            while self._window and now - self._window[0][0] > self.window_seconds:
                self._window.popleft()
            if self._state != self.CLOSED:
                return
            if slow:
                self._open(f"took {seconds:.1f} s (threshold {self.slow_seconds:g} s)")
                return
            failures = sum(1 for _, f in self._window if f)
            rate = failures / len(self._window)
            if len(self._window) >= self.min_calls and rate > self.error_rate:
                self._open(f"error rate {rate:.0%} over {len(self._window)} calls (threshold {self.error_rate:.0%})")

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._maybe_half_open()
            failures = sum(1 for _, f in self._window if f)
            return {"state": self._state, "reason": self.reason, "opened": self.opened,
                    "window_calls": len(self._window), "window_failures": failures}

    def _open(self, reason: str) -> None:
        self._state, self.reason, self._opened_at = self.OPEN, reason, self._clock()
        self.opened += 1
        log.warning("circuit breaker %s opened: %s; retrying after %g s", self.name, reason, self.cooldown_seconds)

    def _maybe_half_open(self) -> None:
        if self._state == self.OPEN and self._clock() - self._opened_at >= self.cooldown_seconds:
            self._state, self._probing = self.HALF_OPEN, False


@dataclass
class Backend:
    answerer: LLMAnswerer
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        return self.answerer.name


class AnswerChain:
    """`answer(question, hits, tool_results, history) -> Answer` over model backends, then extractive."""

    def __init__(self, extractive: ExtractiveAnswerer, backends: Sequence[Backend] = ()):
        self.extractive = extractive
        self.backends = list(backends)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    @property
    def has_llm(self) -> bool:
        return bool(self.backends)

    def answer(
        self, question: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult] = (), history: Sequence[Any] = ()
    ) -> Answer:
        trace = Trace(question=question)
        query = knowledge_query(question, tool_results)
        evidence = self.extractive.evidence(query, hits)
        weak = not hits or self.extractive.is_weak(evidence)
        sim = "n/a" if evidence.similarity is None else f"{evidence.similarity:.2f}"
        trace.notes.append(f"evidence: coverage={evidence.coverage:.2f} similarity={sim}")
        if weak and not tool_results:
            trace.notes.append("refused: evidence below both thresholds (no model called)")
            self._count("refused_weak_evidence")
            return self.extractive.refusal(question, trace)
        if weak:
            trace.notes.append("knowledge base evidence weak: answering from the tool results only")
            hits = []

        previous = None
        for backend in self.backends:
            if not backend.breaker.allow():
                trace.notes.append(f"LLM backend {backend.name!r} skipped: circuit open ({backend.breaker.reason})")
                self._count(f"skipped:{backend.name}")
                continue
            if previous:
                self._switch(previous, backend.name, trace)
            started = time.perf_counter()
            try:
                answer = backend.answerer.answer(question, hits, tool_results, history)
            except LLMError as exc:
                backend.breaker.record(False, time.perf_counter() - started)
                self._count(f"failed:{backend.name}")
                trace.notes.append(f"LLM backend {backend.name!r} failed: {exc.__class__.__name__}: {exc}")
                previous = backend.name
                continue
            except ModelDeclined:
                backend.breaker.record(True, time.perf_counter() - started)
                trace.notes.append(f"LLM backend {backend.name!r} found no answer in the sources")
                if not tool_results:
                    self._count("refused_by_model")
                    return self.extractive.refusal(question, trace)
                previous = None
                break
            except UnsupportedAnswer as exc:
                backend.breaker.record(True, time.perf_counter() - started)
                trace.notes.extend(exc.checked.notes())
                trace.notes.append(f"LLM backend {backend.name!r}: no supported sentence; falling back to extractive")
                self._count("unsupported_fallback")
                previous = None
                break
            backend.breaker.record(True, time.perf_counter() - started)
            self._count(f"answered:{backend.name}")
            trace.notes.extend(answer.trace.notes)
            return answer.model_copy(update={"trace": trace})
        if previous:
            self._switch(previous, EXTRACTIVE, trace)
        self._count(f"answered:{EXTRACTIVE}")
        return self._extractive(question, query, hits, tool_results, trace)

    def complete(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None) -> Completion:
        """One raw completion from the first backend whose breaker allows it (used for function calling)."""
        previous = None
        for backend in self.backends:
            if not backend.breaker.allow():
                continue
            if previous:
                self._switch(previous, backend.name, None)
            started = time.perf_counter()
            try:
                completion = backend.answerer.client.complete(messages, tools=tools)
            except LLMError as exc:
                backend.breaker.record(False, time.perf_counter() - started)
                self._count(f"failed:{backend.name}")
                log.warning("tool routing on %s failed: %s", backend.name, exc)
                previous = backend.name
                continue
            backend.breaker.record(True, time.perf_counter() - started)
            return completion
        raise AllBackendsDown("no LLM backend is available (all failed or their circuits are open)")

    def stats(self) -> dict[str, Any]:
        """Counters and breaker states, for /healthz or metrics."""
        with self._lock:
            counts = dict(self._counts)
        return {
            "backends": {b.name: b.breaker.snapshot() for b in self.backends},
            "counts": counts,
            "switches": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("switch:")},
        }

    # -- helpers ---------------------------------------------------------------------------------
    def _switch(self, source: str, target: str, trace: Trace | None) -> None:
        self._count(f"switch:{source}->{target}")
        log.warning("answer backend switch: %s -> %s", source, target)
        if trace is not None:
            trace.notes.append(f"switched answer backend: {source} -> {target}")

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _extractive(
        self, question: str, query: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult], trace: Trace
    ) -> Answer:
        """The extractive answer to the knowledge-base part, with the tool results' facts before it.

        The rule behind a tool result is quoted from the governing SOP rather than an FAQ digest of it
        (versioned, with section and page), when the SOP is among the hits.
        """
        if tool_results:
            hits = [h for h in hits if h.chunk.kind != "faq"] or hits
        kb = self.extractive.answer(query, hits) if hits else None
        if kb is not None:
            trace.notes.extend(n for n in kb.trace.notes if not n.startswith("evidence:"))
        if not tool_results:
            assert kb is not None  # weak evidence without tools returned earlier
            return kb.model_copy(update={"question": question, "trace": trace})
        english = detect_language(question) == "en"
        parts: list[str] = []
        citations: list[Citation] = []
        for n, result in enumerate(tool_results, start=1):
            sentence = result.summary_en if english and result.summary_en else result.summary
            parts.append(_mark(sentence, n))
            citations.append(
                Citation(n=n, doc_id=result.source_id, chunk_id=result.source_id, title=result.title,
                         section=result.section, quote=result.facts)
            )
        if kb is not None and not kb.refused:
            k = len(tool_results)
            parts.append(re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + k}]", kb.answer))
            citations += [c.model_copy(update={"n": c.n + k}) for c in kb.citations]
        text = (" " if english else "").join(parts)
        return Answer(question=question, answer=text, refused=False, citations=citations, trace=trace)


def _mark(sentence: str, n: int) -> str:
    sentence = sentence.strip()
    if sentence.endswith(("。", "！", "？", ".", "!", "?")):
        return f"{sentence[:-1]}[{n}]{sentence[-1]}"
    return f"{sentence}[{n}]"


def backends_from_settings(settings) -> list[Backend]:
    """The model backends the settings name (primary, then secondary), each with its own breaker."""
    from assistant.answer.citations import CitationChecker
    from assistant.answer.llm import LLMClient

    s = settings
    checker = CitationChecker(min_support=s.citation_min_support)
    configured = [("primary", s.llm_base_url, s.llm_model, s.llm_api_key)]
    if s.llm_secondary_base_url:
        configured.append(
            ("secondary", s.llm_secondary_base_url, s.llm_secondary_model or s.llm_model, s.llm_secondary_api_key)
        )
    backends = []
    for name, url, model, key in configured:
        if not url:
            continue
        client = LLMClient(url, model, key, timeout=s.llm_timeout, name=name, max_tokens=s.llm_max_tokens)
        breaker = CircuitBreaker(
            name,
            slow_seconds=s.breaker_slow_seconds,
            error_rate=s.breaker_error_rate,
            window_seconds=s.breaker_window_seconds,
            min_calls=s.breaker_min_calls,
            cooldown_seconds=s.breaker_cooldown_seconds,
        )
        backends.append(Backend(LLMAnswerer(client, checker, stream=s.llm_stream), breaker))
    return backends
