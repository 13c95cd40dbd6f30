"""The tools stage of the pipeline: decide the calls, run them for this caller, report what happened.

Every call lands in the trace (name, arguments, result or error, time). Results become numbered
sources of the answer; a result may also say which SOP question explains it (`kb_query`), and
the pipeline searches the knowledge base for that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.domain import ToolCall, Turn
from assistant.text.normalize import detect_language
from assistant.tools.audience import AudienceRules
from assistant.tools.base import (
    Caller,
    ToolDenied,
    ToolNotFound,
    ToolRegistry,
    ToolResult,
)
from assistant.tools.routing import Plan


class Router(Protocol):
    def plan(self, question: str, caller: Caller, history: Sequence[Turn] = ()) -> Plan: ...


@dataclass
class ToolsOutcome:
    results: list[ToolResult] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    denied: int = 0
    not_found: int = 0
    failed: int = 0

    def notice(self, question: str) -> str | None:
        """A sentence for the reader when a lookup could not be done (no internals, no addresses)."""
        english = detect_language(question) == "en"
        if self.denied:
            return ("This order's details cannot be shown in this chat." if english
                    else "该订单的信息不能在这里显示，请私聊客服核实身份后查询。")
        if self.not_found:
            return ("No order with that number was found; please check the order number." if english
                    else "没有查到这个订单号对应的订单，请核对订单号后再问。")
        if self.failed and not self.results:
            return ("The order system could not be reached just now; please try again later or ask a colleague."
                    if english else "订单系统暂时查询不到，请稍后再试或联系人工客服。")
        return None


class ToolStage:
    """Plans tool calls with a router and runs them with the caller's audience decided."""

    def __init__(self, registry: ToolRegistry, router: Router, audience: AudienceRules, *, max_calls: int = 4):
        self.registry = registry
        self.router = router
        self.audience = audience
        self.max_calls = max_calls

    def run(self, question: str, caller: Caller, history: Sequence[Turn] = ()) -> ToolsOutcome:
        caller = self.audience.bind(caller)
        plan = self.router.plan(question, caller, history)
        outcome = ToolsOutcome(notes=list(plan.notes))
        if plan.calls:
            outcome.notes.append(f"tools: caller {caller.platform}/{caller.chat_id or '-'} as {caller.audience}")
        for planned in plan.calls[: self.max_calls]:
            done = self.registry.call(planned.name, planned.arguments, caller)
            outcome.calls.append(done.record)
            if done.result is not None:
                if all((r.source_id, r.facts) != (done.result.source_id, done.result.facts) for r in outcome.results):
                    outcome.results.append(done.result)
            elif isinstance(done.error, ToolDenied):
                outcome.denied += 1
            elif isinstance(done.error, ToolNotFound):
                outcome.not_found += 1
            else:
                outcome.failed += 1
        if len(plan.calls) > self.max_calls:
            outcome.notes.append(f"tools: {len(plan.calls) - self.max_calls} call(s) over the limit skipped")
        return outcome


def knowledge_query(question: str, results: Sequence[ToolResult]) -> str:
    """What to search the knowledge base for: the rules behind the tool results, else the question."""
    asked = [r.kb_query for r in results if r.kb_query]
    return " ".join(dict.fromkeys(asked)) if asked else question
