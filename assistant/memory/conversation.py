"""The pipeline's view of a conversation: recent turns, recalled older ones, and the rewrite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.domain import Turn
from assistant.memory.rewrite import Rewrite, RuleRewriter
from assistant.storage.interfaces import ConversationStore

RECENT_TURNS = 6  # three exchanges
RECALL_SCAN = 50
RECALL_MIN_SIMILARITY = 0.6


@dataclass
class Context:
    """What memory contributes to one question."""

    history: list[Turn] = field(default_factory=list)  # recent turns, oldest first
    recalled: list[Turn] = field(default_factory=list)  # older turns similar to this question
    rewrite: Rewrite | None = None


class ConversationMemory:
    def __init__(
        self,
        store: ConversationStore,
        rewriter: RuleRewriter,
        embed: Callable[[str], np.ndarray],
        *,
        recent: int = RECENT_TURNS,
    ):
        self.store = store
        self.rewriter = rewriter
        self.embed = embed
        self.recent = recent

    def context(self, conversation_id: str, question: str) -> Context:
        history = self.store.recent(conversation_id, self.recent)
        rewrite = self.rewriter.rewrite(question, history)
        recalled = self._recall(conversation_id, rewrite.query) if len(history) >= self.recent else []
        return Context(history=history, recalled=recalled, rewrite=rewrite)

    def _recall(self, conversation_id: str, query: str) -> list[Turn]:
        older = [t for t in self.store.older(conversation_id, self.recent, RECALL_SCAN) if t.embedding is not None]
        if not older:
            return []
        qvec = self.embed(query)
        scored = sorted(((float(np.dot(qvec, t.embedding)), t) for t in older), key=lambda p: -p[0])
        return [t for sim, t in scored[:2] if sim >= RECALL_MIN_SIMILARITY]

    def remember(self, conversation_id: str, question: str, standalone: str, answer_text: str) -> None:
        self.store.append(conversation_id, Turn("user", question, standalone, self.embed(standalone)))
        self.store.append(conversation_id, Turn("assistant", answer_text))
