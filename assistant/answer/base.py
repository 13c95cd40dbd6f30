"""The answerer interface: extractive, LLM and the fallback chain all answer the same call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from assistant.domain import Answer, AnswerGuidance, Hit, Turn
from assistant.tools.base import ToolResult


class Answerer(Protocol):
    def answer(
        self, question: str, hits: Sequence[Hit], tool_results: Sequence[ToolResult] = (), history: Sequence[Turn] = (),
        guidance: AnswerGuidance | None = None,
    ) -> Answer:
        """A cited answer from the hits and tool results (numbered sources), or a refusal. ``guidance``
        (from a routing rule) asks for a style, adds an instruction for a model, or names a backend."""
        ...
