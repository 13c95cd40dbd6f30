"""Counting what the assistant does: one catalogue of measures, recorded through one small interface.

The core, the connectors and ingestion record into a ``Telemetry`` they are given; which one is the
composition root's choice: the server hands down its Prometheus registry (``assistant/app/metrics.py``),
everything else (unit tests, the CLI, the eval harness) gets a ``Tally`` kept in memory. Counts are
read back from that same object (``AnswerChain.stats``, ``GatewayStats``, the console's health
page), so each thing is counted once, in one place.

Invariants every measure keeps:
- labels name bounded things only: backends, platforms, stages, outcomes, reasons. Never a person,
  a chat, a question, a document or anything a client wrote (no personal data, no unbounded series);
- counters only grow; durations are seconds.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal, Protocol

MeasureKind = Literal["counter", "histogram"]

# Buckets (seconds) for the durations we measure, from a pipeline stage up to an LLM's answer.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0, 30.0)
REMOTE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Measure:
    """One metric family: its exposed name (a counter's gets ``_total``), what it means, its labels."""

    name: str
    kind: MeasureKind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


# -- answering ------------------------------------------------------------------------------------
ASKS = Measure("assistant_asks", "counter", "Questions answered, by front door and whether refused.",
               ("door", "refused"))
ASK_SECONDS = Measure("assistant_ask_duration_seconds", "histogram",
                      "Time to answer one question (the whole pipeline), by front door.", ("door",), ASK_BUCKETS)
STAGE_SECONDS = Measure("assistant_ask_stage_duration_seconds", "histogram",
                        "Time spent in one pipeline stage of one question.", ("stage",), STAGE_BUCKETS)
REFUSALS = Measure("assistant_refusals", "counter", "Questions refused, by front door and reason.", ("door", "reason"))
FAQ_HITS = Measure("assistant_faq_hits", "counter", "Questions answered from a matching FAQ entry.", ("door",))
ANSWER_BACKENDS = Measure(
    "assistant_answer_backend_attempts", "counter",
    "How each answer backend's turn ended: answered, failed, declined, unsupported (fell back) or skipped "
    "(circuit open).", ("backend", "outcome"))
ANSWER_SWITCHES = Measure("assistant_answer_backend_switches", "counter",
                          "Switches from a failing answer backend to the next one.", ("source", "target"))
LLM_REQUESTS = Measure("assistant_llm_requests", "counter",
                       "Requests to LLM backends, by outcome (ok, timeout, unavailable, bad_response).",
                       ("backend", "outcome"))
LLM_SECONDS = Measure("assistant_llm_request_duration_seconds", "histogram",
                      "Time one LLM request took, failed ones included.", ("backend",), LLM_BUCKETS)
LLM_TOKENS = Measure("assistant_llm_tokens", "counter", "Tokens the LLM backends reported using (prompt, completion).",
                     ("backend", "kind"))
ERP_REQUESTS = Measure("assistant_erp_requests", "counter",
                       "ERP calls by operation and outcome (ok, not_found, timeout, unavailable, auth, bad_response).",
                       ("operation", "outcome"))
ERP_SECONDS = Measure("assistant_erp_request_duration_seconds", "histogram",
                      "Time one ERP call took, retries included.", ("operation",), REMOTE_BUCKETS)

# -- IM gateway -----------------------------------------------------------------------------------
IM_MESSAGES = Measure(
    "assistant_im_messages", "counter",
    "IM messages received, by what the gateway did with them: queued, duplicate, ignored, rate_limited "
    "(told so), suppressed (over the limit, already told), overloaded.", ("platform", "admission"))
IM_REPLIES = Measure("assistant_im_replies", "counter",
                     "IM messages answered (replies sent) or failed (reply errors), by platform.", ("platform", "outcome"))
IM_REPLY_SECONDS = Measure("assistant_im_reply_duration_seconds", "histogram",
                           "Time from receiving an IM message to its reply being sent.", ("platform",), REPLY_BUCKETS)

# -- ingestion ------------------------------------------------------------------------------------
INGEST_FILES = Measure("assistant_ingest_files", "counter",
                       "Files ingested by the workers, by result (added, replaced, unchanged, failed).", ("status",))
INGEST_CHUNKS = Measure("assistant_ingest_chunks", "counter", "Chunks written by the ingestion workers.")
INGEST_JOBS = Measure("assistant_ingest_jobs", "counter", "Ingestion jobs finished, by status (done, failed).",
                      ("status",))

MEASURES: tuple[Measure, ...] = (
    ASKS, ASK_SECONDS, STAGE_SECONDS, REFUSALS, FAQ_HITS, ANSWER_BACKENDS, ANSWER_SWITCHES, LLM_REQUESTS,
    LLM_SECONDS, LLM_TOKENS, ERP_REQUESTS, ERP_SECONDS, IM_MESSAGES, IM_REPLIES, IM_REPLY_SECONDS,
    INGEST_FILES, INGEST_CHUNKS, INGEST_JOBS,
)


class Telemetry(Protocol):
    """Where measurements go. Every implementation must be thread-safe, must reject labels other than
    the measure's own (``ValueError``), and must give back through ``totals`` what ``count`` added."""

    def count(self, measure: Measure, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter's series for these label values."""
        ...

    def observe(self, measure: Measure, value: float, **labels: str) -> None:
        """Record one observation (seconds) in a histogram."""
        ...

    def totals(self, measure: Measure) -> dict[tuple[str, ...], float]:
        """A counter's value per series, keyed by label values in the measure's label order."""
        ...


def label_values(measure: Measure, labels: dict[str, str]) -> tuple[str, ...]:
    """The label values in ``measure``'s order; a missing or unknown label is a programming error."""
    if set(labels) != set(measure.labels):
        raise ValueError(f"{measure.name} takes the labels {measure.labels}, got {tuple(labels)}")
    return tuple(str(labels[name]) for name in measure.labels)


class Tally:
    """A ``Telemetry`` in memory: for tests and for processes nobody scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[tuple[str, ...], float]] = defaultdict(lambda: defaultdict(float))
        self._observed: dict[str, dict[tuple[str, ...], list[float]]] = defaultdict(lambda: defaultdict(list))

    def count(self, measure: Measure, amount: float = 1.0, **labels: str) -> None:
        key = label_values(measure, labels)
        with self._lock:
            self._counts[measure.name][key] += amount

    def observe(self, measure: Measure, value: float, **labels: str) -> None:
        key = label_values(measure, labels)
        with self._lock:
            series = self._observed[measure.name][key]
            series.append(value)
            if len(series) > 10_000:  # keep memory bounded in a long-lived process: the recent ones
                del series[: len(series) - 10_000]

    def totals(self, measure: Measure) -> dict[tuple[str, ...], float]:
        with self._lock:
            return dict(self._counts.get(measure.name, {}))

    def observations(self, measure: Measure) -> dict[tuple[str, ...], list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self._observed.get(measure.name, {}).items()}


def total(telemetry: Telemetry, measure: Measure, **match: str) -> float:
    """The sum of a counter's series whose labels match ``match`` (all of them when none is given)."""
    positions = {measure.labels.index(name): value for name, value in match.items()}
    return sum(v for key, v in telemetry.totals(measure).items()
               if all(key[i] == value for i, value in positions.items()))
