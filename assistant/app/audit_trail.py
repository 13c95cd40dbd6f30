"""What goes into an audit row: a question with everything it touched, or an administrative act.

Tool results are recorded as the asker saw them (masked for customers); secrets never reach here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.domain import Answer, AuditEntry, Principal


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
        detail={"evidence_probability": trace.evidence.probability if trace.evidence else None},
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
