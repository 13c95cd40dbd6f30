"""Deciding which tools a message needs.

Without a model, by rules: an order number in the message plus intent words (发票 / 物流 / 退款 / 退货 /
取消 / 改地址 / invoice / cancel ...) plan an order lookup on that topic; an order number alone looks up
the order's status. With a model, by function calling (OpenAI ``tools`` format); if the model is
unavailable the rules decide instead. What counts as an order number is `assistant.tools.identifiers`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.answer.prompt import recent_turns, tool_messages
from assistant.domain import Turn
from assistant.errors import AssistantError
from assistant.text.normalize import normalize
from assistant.tools.base import Caller, ToolRegistry
from assistant.tools.identifiers import order_numbers
from assistant.tools.intents import topics

log = logging.getLogger(__name__)

LIST_WORDS = ("我的订单", "我有哪些订单", "我下过的订单", "最近的订单", "my orders", "list my orders")


@dataclass
class PlannedCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    calls: list[PlannedCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RuleRouter:
    """Order number + intent words -> `lookup_order` per (order, topic); "my orders" -> `list_orders`.

    An order number with no recognised intent is still looked up (its status): the customer named it
    for a reason, and the status is what every answer about it starts from.
    """

    def __init__(self, registry: ToolRegistry):
        self.registry = registry

    def plan(self, question: str, caller: Caller, history: Sequence[Turn] = ()) -> Plan:
        plan = Plan()
        numbers = order_numbers(question)
        asked = topics(question)
        if numbers and "lookup_order" in self.registry:
            if not asked:
                plan.notes.append("tools: an order number with no recognised intent; looking up its status")
            # Specific topics first; "status" only when nothing more specific was asked.
            specific = [t for t in asked if t != "status"] or asked or ["status"]
            for number in numbers:
                for topic in specific:
                    plan.calls.append(PlannedCall("lookup_order", {"order_no": number, "topic": topic}))
        elif "list_orders" in self.registry and caller.customer_id:
            if any(w in normalize(question) for w in LIST_WORDS):
                plan.calls.append(PlannedCall("list_orders", {}))
        if plan.calls:
            plan.notes.append(f"tools: chosen by rules ({len(plan.calls)} call(s))")
        return plan


def might_need_orders(text: str, caller: Caller) -> bool:
    """Worth asking the model about order tools: an order number was said, or the customer is known."""
    return bool(order_numbers(text)) or caller.customer_id is not None


class FunctionCallingRouter:
    """Asks the model which tools to call; falls back to the rules when no model answers.

    `worth_asking(conversation_text, caller)` spares the model call when no tool could apply
    (most questions are about the SOPs alone).
    """

    def __init__(
        self,
        registry: ToolRegistry,
        complete: Callable[..., Any],
        fallback: RuleRouter,
        *,
        history_turns: int = 6,
        worth_asking: Callable[[str, Caller], bool] | None = None,
    ):
        self.registry = registry
        self.complete = complete  # AnswerChain.complete: the same backends and breakers as answering
        self.fallback = fallback
        self.history_turns = history_turns
        self.worth_asking = worth_asking

    def plan(self, question: str, caller: Caller, history: Sequence[Turn] = ()) -> Plan:
        turns = recent_turns(history, self.history_turns)
        conversation = " ".join([question, *(t.text for t in turns)])
        if self.worth_asking is not None and not self.worth_asking(conversation, caller):
            return Plan(notes=["tools: nothing a tool could look up; no function-calling call"])
        messages = tool_messages(question, turns)
        try:
            completion = self.complete(messages, tools=self.registry.specs())
        except AssistantError as exc:
            plan = self.fallback.plan(question, caller, history)
            plan.notes.insert(0, f"tools: function calling unavailable ({exc.__class__.__name__}); rules decide")
            return plan
        plan = Plan()
        said = set(order_numbers(conversation))
        for requested in completion.tool_calls:
            if requested.name not in self.registry:
                plan.notes.append(f"tools: the model asked for unknown tool {requested.name!r}; ignored")
                continue
            try:
                arguments = json.loads(requested.arguments or "{}")
            except ValueError:
                plan.notes.append(f"tools: the model's arguments for {requested.name} are not JSON; ignored")
                continue
            arguments = arguments if isinstance(arguments, dict) else {}
            number = arguments.get("order_no")
            if number is not None and number not in said:
                plan.notes.append(f"tools: the model asked about order {number!r}, which nobody mentioned; ignored")
                continue
            plan.calls.append(PlannedCall(requested.name, arguments))
        plan.notes.append(f"tools: chosen by function calling ({len(plan.calls)} call(s))")
        return plan
