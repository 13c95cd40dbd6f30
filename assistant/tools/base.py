"""What a tool is, who calls it, what it returns, and the registry that holds them.

A tool is a name, a description, JSON-schema parameters and a function ``call(args, caller)``.
Its result becomes a numbered source of the answer, cited like a document
("ERP 订单系统, 查询于 10:22"), so a result carries the fields a citation shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assistant.domain import ToolCall
from assistant.errors import AssistantError

Audience = Literal["staff", "customer"]


@dataclass(frozen=True)
class Caller:
    """Who is asking, and where: the IM gateway fills this in; the API and CLI ask as staff.

    `audience` is decided by the audience rules (`assistant.tools.audience`) from the platform,
    chat and role; a caller whose audience is not decided is treated as a customer.
    """

    platform: str = "api"
    chat_id: str | None = None
    user_id: str | None = None
    role: str | None = "staff"
    customer_id: str | None = None  # the ERP customer this user is linked to, when known
    audience: Audience | None = None
    principal_id: str | None = None  # who asks (assistant.domain.Principal.id), for per-asker state
    verified_orders: frozenset[str] = frozenset()  # orders this asker proved to own in the conversation


class ToolError(AssistantError):
    """A tool could not produce a result; the message is safe to show in the trace."""

    def __init__(self, tool: str, message: str):
        self.tool = tool
        super().__init__(f"{tool}: {message}")


class UnknownTool(ToolError):
    def __init__(self, tool: str, known: Iterable[str]):
        super().__init__(tool, f"no such tool; known tools: {', '.join(sorted(known)) or 'none'}")


class ToolArgumentError(ToolError):
    """The arguments do not match the tool's parameter schema."""


class ToolNotFound(ToolError):
    """What the call asks about does not exist (a tool that cannot answer "not found" as a result raises this)."""


class ToolDenied(ToolError):
    """The caller's audience may not see this (e.g. a customer asking for another customer's orders)."""


@dataclass
class ToolResult:
    """A tool's answer, shaped as a citable source.

    `facts` is the quote: the key facts as short lines, already masked for the caller's audience.
    `summary` is one sentence of those facts that an answer can state as is; `kb_query` is the
    question the knowledge base should answer to explain the result (the rule behind a status).
    """

    tool: str
    source_id: str  # e.g. "erp:order:20240521-8892"
    title: str  # e.g. "ERP 订单系统"
    section: str  # e.g. "查询于 10:22"
    facts: str
    summary: str
    summary_en: str = ""
    kb_query: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments (an object)

    def call(self, args: dict[str, Any], caller: Caller) -> ToolResult: ...


@dataclass
class Outcome:
    """One executed call: its result (or error) and its trace record."""

    result: ToolResult | None
    record: ToolCall
    error: AssistantError | None = None


class ToolRegistry:
    """The tools the assistant may use, by name."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(name, self._tools) from None

    def specs(self) -> list[dict[str, Any]]:
        """The tools in the OpenAI ``tools`` format, for function calling."""
        return [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in self._tools.values()
        ]

    def call(self, name: str, args: dict[str, Any], caller: Caller) -> Outcome:
        """Validate and run one call; errors are caught into the record, never raised."""
        started = time.perf_counter()
        record = ToolCall(name=name, arguments=dict(args))
        result, error = None, None
        try:
            tool = self.get(name)
            validate_arguments(name, tool.parameters, args)
            result = tool.call(args, caller)
            record.result = result.facts
        except AssistantError as exc:
            error = exc
            record.error = f"{exc.__class__.__name__}: {exc}"
        record.ms = round((time.perf_counter() - started) * 1000, 3)
        return Outcome(result, record, error)


_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


def validate_arguments(tool: str, schema: dict[str, Any], args: Any) -> None:
    """Check arguments against the subset of JSON schema tools use: object, required, type, enum, pattern."""
    if not isinstance(args, dict):
        raise ToolArgumentError(tool, "arguments must be a JSON object")
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            raise ToolArgumentError(tool, f"missing argument {name!r}")
    for name, value in args.items():
        spec = properties.get(name)
        if spec is None:
            if schema.get("additionalProperties", True) is False:
                raise ToolArgumentError(tool, f"unexpected argument {name!r}")
            continue
        expected = _TYPES.get(spec.get("type", ""), object)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ToolArgumentError(tool, f"argument {name!r} must be of type {spec.get('type')}")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolArgumentError(tool, f"argument {name!r} must be one of {spec['enum']}")
        if "pattern" in spec and isinstance(value, str) and not re.search(spec["pattern"], value):
            raise ToolArgumentError(tool, f"argument {name!r} does not look right: {value!r}")
