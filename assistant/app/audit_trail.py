"""What goes into an audit row: a question with everything it touched, or an administrative act.

Tool results are recorded as the asker saw them (masked for customers); secrets never reach here.
A question's row also keeps a compact copy of its trace (``detail["trace"]``: each stage's best hits
with short snippets, timings, evidence, notes), so the console can show any past turn's trace;
``recorded_trace`` reads it back (rows written before it existed give what their columns hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.domain import Answer, AuditEntry, Principal, StageHit, ToolCall, Trace

TRACE_HITS_PER_STAGE = 8  # enough to see why the answer cited what it did; the row stays a few KB
TRACE_SNIPPET_CHARS = 160
TRACE_NOTES = 20


def _who(principal: Principal) -> dict[str, Any]:
    return {
        "principal_id": principal.id, "principal_kind": principal.kind, "principal_name": principal.name,
        "role": principal.role, "departments": list(principal.departments),
    }


def question_entry(principal: Principal, channel: str, answer: Answer, latency_ms: float, request_id: str = "") -> AuditEntry:
    trace = answer.trace
    return AuditEntry(
        kind="question", channel=channel, action="ask", request_id=request_id, **_who(principal),
        kbs=list(trace.kb_ids), question=answer.question, rewritten=trace.rewritten or "", answer=answer.answer,
        refused=answer.refused, refusal=trace.refusal,
        sources=[{"n": c.n, "doc_id": c.doc_id, "title": c.title, "version": c.version, "section": c.section,
                  "page": c.page} for c in answer.citations],
        tool_calls=[{"name": t.name, "arguments": t.arguments, "result": t.result, "error": t.error} for t in trace.tool_calls],
        latency_ms=round(latency_ms, 1),
        detail={"evidence_probability": trace.evidence.probability if trace.evidence else None,
                "trace": _compact(trace)},
    )


def _compact(trace: Trace) -> dict[str, Any]:
    stages = {
        stage: [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "score": h.score,
                 "snippet": h.snippet[:TRACE_SNIPPET_CHARS]} for h in hits[:TRACE_HITS_PER_STAGE]]
        for stage, hits in trace.stages.items()
    }
    return {
        "language": trace.language, "stages": stages, "timings_ms": trace.timings_ms,
        "tool_ms": [t.ms for t in trace.tool_calls],
        "evidence": trace.evidence.model_dump() if trace.evidence else None,
        "faq_match": trace.faq_match.model_dump() if trace.faq_match else None,
        "rule": trace.rule.model_dump() if trace.rule else None, "notes": trace.notes[:TRACE_NOTES],
    }


def recorded_trace(entry: AuditEntry) -> Trace:
    """The trace of a question's audit row, as far as the row kept it (tool results as recorded: masked)."""
    kept = entry.detail.get("trace") or {}
    timings = kept.get("timings_ms") or ({"total": entry.latency_ms} if entry.latency_ms is not None else {})
    tool_ms = kept.get("tool_ms") or []
    calls = [ToolCall(name=c.get("name", ""), arguments=c.get("arguments") or {}, result=c.get("result") or "",
                      error=c.get("error"), ms=tool_ms[n] if n < len(tool_ms) else 0.0)
             for n, c in enumerate(entry.tool_calls)]
    return Trace(
        question=entry.question, rewritten=entry.rewritten or None, language=kept.get("language", ""),
        kb_ids=list(entry.kbs), tool_calls=calls, refusal=entry.refusal, timings_ms=timings,
        stages={stage: [StageHit(**hit) for hit in hits] for stage, hits in (kept.get("stages") or {}).items()},
        evidence=kept.get("evidence"), faq_match=kept.get("faq_match"), rule=kept.get("rule"),
        notes=kept.get("notes") or [],
    )


def act_entry(
    principal: Principal, action: str, target: str = "", *, channel: str = "api", kbs: list[str] | None = None,
    status: str = "ok", detail: dict[str, Any] | None = None, request_id: str = "",
) -> AuditEntry:
    kind = "login" if action.startswith("login") else "admin"
    return AuditEntry(
        kind=kind, channel=channel, action=action, target=target, kbs=kbs or [], status=status,
        detail=detail or {}, request_id=request_id, **_who(principal),
    )


@dataclass(frozen=True)
class Actor:
    """Who does a use case, and through which door: what its audit row names."""

    principal: Principal
    channel: str = "api"
    request_id: str = ""
