"""The tools stage of the pipeline: decide the calls, run them for this caller, report what happened.

Every call lands in the trace (name, arguments, result or error, time). Results become numbered
sources of the answer; a result may also say which SOP question explains it (`kb_query`), and
the pipeline searches the knowledge base for that.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
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
from assistant.tools.verification import OrderVerifier, code_in, order_awaiting_proof


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
    proof: str | None = None  # the outcome of an order proof answered in this message
    proving: str | None = None  # the earlier question the proof is for: its language is the reply's

    @property
    def proof_failed(self) -> bool:
        return self.proof in PROOF_NOTICES

    def notice(self, question: str) -> str | None:
        """A sentence for the reader when a lookup could not be done (no internals, no addresses)."""
        english = detect_language(self.proving or question) == "en"
        if self.proof in PROOF_NOTICES:
            return PROOF_NOTICES[self.proof][1 if english else 0]
        if self.denied:
            return ("To see this order, reply with the last four digits of the phone number it was placed with."
                    if english else "为保护顾客信息，需要先核实身份：请回复下单时所留手机号的后四位。")
        if self.not_found:
            return ("No order with that number was found; please check the order number." if english
                    else "没有查到这个订单号对应的订单，请核对订单号后再问。")
        if self.failed and not self.results:
            return ("The order system could not be reached just now; please try again later or ask a colleague."
                    if english else "订单系统暂时查询不到，请稍后再试或联系人工客服。")
        return None


PROOF_NOTICES = {
    "wrong": ("手机号后四位不匹配，暂时不能显示该订单的信息。", "Those digits do not match the order's phone number."),
    "limited": ("验证尝试次数过多，请稍后再试或联系人工客服。", "Too many attempts; please try again later or ask a colleague."),
    "unavailable": ("订单系统暂时查询不到，请稍后再试。", "The order system could not be reached; please try again later."),
}


class ToolStage:
    """Plans tool calls with a router and runs them with the caller's audience decided.

    With a ``verifier``, a customer who answers four digits after naming an order proves it is theirs
    (the phone's last four digits); the question about that order is then answered at once.
    """

    def __init__(self, registry: ToolRegistry, router: Router, audience: AudienceRules, *, max_calls: int = 4,
                 verifier: OrderVerifier | None = None):
        self.registry = registry
        self.router = router
        self.audience = audience
        self.max_calls = max_calls
        self.verifier = verifier

    def run(self, question: str, caller: Caller, history: Sequence[Turn] = (),
            allowed: Collection[str] | None = None) -> ToolsOutcome:
        """Plan and run the calls this question needs; ``allowed`` (a routing rule's) keeps only the
        tools it names (``[]``: no tools at all, not even an order proof)."""
        if allowed is not None and not allowed:
            return ToolsOutcome(notes=["tools: none allowed by the routing rule"])
        caller = self.audience.bind(caller)
        proof = proving = None
        if self.verifier is not None and caller.audience == "customer" and caller.principal_id:
            proving, proof = self._prove(question, caller, history)
            if proof in PROOF_NOTICES:  # wrong digits, too many tries: that is the whole reply
                return ToolsOutcome(proof=proof, proving=proving)
            if proof == "verified" and proving:
                question = proving  # ask again about that order, now proved
            caller = replace(caller, verified_orders=self.verifier.verified(caller.principal_id))
        plan = self.router.plan(question, caller, history)
        outcome = ToolsOutcome(notes=list(plan.notes), proof=proof, proving=proving)
        if allowed is not None:
            barred = sorted({c.name for c in plan.calls if c.name not in allowed})
            if barred:
                outcome.notes.append(f"tools: {', '.join(barred)} not allowed by the routing rule")
                plan.calls = [c for c in plan.calls if c.name in allowed]
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


    def _prove(self, question: str, caller: Caller, history: Sequence[Turn]) -> tuple[str | None, str | None]:
        """Four digits after an order was named: try them. Returns the earlier question about that
        order (asked again once proved) and the outcome; (None, None) when this is no proof."""
        assert self.verifier is not None and caller.principal_id
        code, order_no = code_in(question), order_awaiting_proof(history)
        if code is None or order_no is None:
            return None, None
        outcome = self.verifier.attempt(caller.principal_id, order_no, code)
        asked = next((t.standalone or t.text for t in reversed(history)
                      if t.role == "user" and order_no in (t.standalone or t.text)), f"订单{order_no}的状态")
        return asked, outcome


def knowledge_query(question: str, results: Sequence[ToolResult]) -> str:
    """What to search the knowledge base for: the rules behind the tool results, else the question."""
    asked = [r.kb_query for r in results if r.kb_query]
    return " ".join(dict.fromkeys(asked)) if asked else question
