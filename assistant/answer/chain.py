"""The answering chain: primary LLM -> secondary LLM -> extractive, each model behind a circuit breaker.

Before any model is called the evidence is measured (the extractive answerer's check): weak
retrieval and no tool result means a refusal with no model call at all. A backend that fails,
stalls or is slower than the threshold opens its breaker, and the next question skips it until a
cool-down has passed; then one probe call decides whether it closes again. A generated answer with
no supported sentence falls back to the extractive answer. Every switch is logged and counted: how
each backend's turn ended and every switch go into the ``Telemetry`` given (``assistant.telemetry``),
which is also what ``stats()`` reads back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.answer.breaker import CircuitBreaker
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm import (
    Completion,
    LLMAnswerer,
    LLMError,
    ModelDeclined,
    UnsupportedAnswer,
)
from assistant.answer.marks import mark, shift_markers
from assistant.answer.sources import tool_citation
from assistant.domain import Answer, AnswerGuidance, Citation, Hit, Trace, Turn
from assistant.errors import AssistantError
from assistant.telemetry import ANSWER_BACKENDS, ANSWER_SWITCHES, Tally, Telemetry
from assistant.text.normalize import detect_language
from assistant.tools.base import ToolResult
from assistant.tools.stage import knowledge_query

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"


class AllBackendsDown(AssistantError):
    """Every model backend failed or has its breaker open."""


@dataclass
class Backend:
    answerer: LLMAnswerer
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        return self.answerer.name


class AnswerChain:
    """`answer(question, hits, tool_results, history) -> Answer` over model backends, then extractive."""

    def __init__(self, extractive: ExtractiveAnswerer, backends: Sequence[Backend] = (),
                 telemetry: Telemetry | None = None):
        self.extractive = extractive
        self.backends = list(backends)
        self.telemetry = telemetry or Tally()

    @property
    def has_llm(self) -> bool:
        return bool(self.backends)

    def answer(
        self, question: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult] = (), history: Sequence[Turn] = (),
        guidance: AnswerGuidance | None = None,
    ) -> Answer:
        """``guidance`` (a routing rule's) puts its backend first and reaches every answerer."""
        trace = Trace(question=question)
        query = knowledge_query(question, tool_results)
        trace.evidence = evidence = self.extractive.evidence(query, hits)
        if evidence.weak and not tool_results:
            return self.extractive.refusal(question, trace, "weak_evidence")
        if evidence.weak:
            trace.notes.append("knowledge base evidence weak: answering from the tool results only")
            hits = []

        previous = None
        for backend in self._in_order(guidance, trace):
            if not backend.breaker.allow():
                trace.notes.append(f"LLM backend {backend.name!r} skipped: circuit open ({backend.breaker.reason})")
                self._count(backend.name, "skipped")
                continue
            if previous:
                self._switch(previous, backend.name, trace)
            started = time.perf_counter()
            try:
                answer = backend.answerer.answer(question, hits, tool_results, history, guidance)
            except LLMError as exc:
                backend.breaker.record(False, time.perf_counter() - started)
                self._count(backend.name, "failed")
                trace.notes.append(f"LLM backend {backend.name!r} failed: {exc.__class__.__name__}: {exc}")
                previous = backend.name
                continue
            except ModelDeclined:
                backend.breaker.record(True, time.perf_counter() - started)
                trace.notes.append(f"LLM backend {backend.name!r} found no answer in the sources")
                self._count(backend.name, "declined")
                if not tool_results:
                    return self.extractive.refusal(question, trace, "model_declined")
                previous = None
                break
            except UnsupportedAnswer as exc:
                backend.breaker.record(True, time.perf_counter() - started)
                trace.notes.extend(exc.checked.notes())
                trace.notes.append(f"LLM backend {backend.name!r}: no supported sentence; falling back to extractive")
                self._count(backend.name, "unsupported")
                previous = None
                break
            backend.breaker.record(True, time.perf_counter() - started)
            self._count(backend.name, "answered")
            trace.notes.extend(answer.trace.notes)
            return answer.model_copy(update={"trace": trace})
        if previous:
            self._switch(previous, EXTRACTIVE, trace)
        self._count(EXTRACTIVE, "answered")
        return self._extractive(question, query, hits, tool_results, trace, guidance)

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
                self._count(backend.name, "failed")
                log.warning("tool routing on %s failed: %s", backend.name, exc)
                previous = backend.name
                continue
            backend.breaker.record(True, time.perf_counter() - started)
            return completion
        raise AllBackendsDown("no LLM backend is available (all failed or their circuits are open)")

    def stats(self) -> dict[str, Any]:
        """Breaker states and counts (read from the telemetry), for /healthz and the console:
        ``counts`` keys are ``answered:<backend>``, ``failed:<backend>``, ``skipped:<backend>``,
        ``declined:<backend>``, ``unsupported_fallback`` and ``switch:<from>-><to>``."""
        counts: dict[str, int] = {}
        for (backend, outcome), value in sorted(self.telemetry.totals(ANSWER_BACKENDS).items()):
            key = "unsupported_fallback" if outcome == "unsupported" else f"{outcome}:{backend}"
            counts[key] = counts.get(key, 0) + int(value)
        switches = {f"{source}->{target}": int(value)
                    for (source, target), value in sorted(self.telemetry.totals(ANSWER_SWITCHES).items())}
        counts.update({f"switch:{k}": v for k, v in switches.items()})
        return {"backends": {b.name: b.breaker.snapshot() for b in self.backends}, "counts": counts,
                "switches": switches}

    # -- helpers ---------------------------------------------------------------------------------
    def _in_order(self, guidance: AnswerGuidance | None, trace: Trace) -> list[Backend]:
        """The backends to try: a routing rule's backend first (``extractive``: none), else as configured."""
        wanted = guidance.backend if guidance is not None else None
        if wanted is None:
            return self.backends
        if wanted == EXTRACTIVE:
            trace.notes.append("routing rule: answered without a model (extractive)")
            return []
        first = [b for b in self.backends if b.name == wanted]
        if not first:
            trace.notes.append(f"routing rule prefers LLM backend {wanted!r}, which is not configured: usual order")
            return self.backends
        trace.notes.append(f"routing rule: LLM backend {wanted!r} tried first")
        return first + [b for b in self.backends if b.name != wanted]

    def _switch(self, source: str, target: str, trace: Trace | None) -> None:
        self.telemetry.count(ANSWER_SWITCHES, source=source, target=target)
        log.warning("answer backend switch: %s -> %s", source, target)
        if trace is not None:
            trace.notes.append(f"switched answer backend: {source} -> {target}")

    def _count(self, backend: str, outcome: str) -> None:
        self.telemetry.count(ANSWER_BACKENDS, backend=backend, outcome=outcome)

    def _extractive(
        self, question: str, query: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult], trace: Trace,
        guidance: AnswerGuidance | None = None,
    ) -> Answer:
        """The extractive answer to the knowledge-base part, with the tool results' facts before it.

        The rule behind a tool result is quoted from the governing SOP rather than an FAQ digest of it
        (versioned, with section and page), when the SOP is among the hits.
        """
        if tool_results:
            hits = [h for h in hits if h.chunk.kind != "faq"] or hits
        kb = self.extractive.answer(query, hits, guidance=guidance) if hits else None
        if kb is not None:
            trace.notes.extend(kb.trace.notes)
            trace.faq_match, trace.refusal = kb.trace.faq_match, kb.trace.refusal
        if not tool_results:
            assert kb is not None  # weak evidence without tools returned earlier
            return kb.model_copy(update={"question": question, "trace": trace})
        english = detect_language(question) == "en"
        parts: list[str] = []
        citations: list[Citation] = []
        for n, result in enumerate(tool_results, start=1):
            sentence = result.summary_en if english and result.summary_en else result.summary
            parts.append(mark(sentence, n))
            citations.append(tool_citation(result, n))
        if kb is not None and not kb.refused:
            k = len(tool_results)
            parts.append(shift_markers(kb.answer, k))
            citations += [c.model_copy(update={"n": c.n + k}) for c in kb.citations]
        trace.refusal = None  # the tool results answer, whatever the knowledge base lacked
        text = (" " if english else "").join(parts)
        return Answer(question=question, answer=text, refused=False, citations=citations, trace=trace)
