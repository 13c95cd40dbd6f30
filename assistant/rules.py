"""Routing rules: the first enabled rule that matches a question decides its route.

A rule matches on the question (keywords, a pattern, its language) and on who asks from where
(platform, chat, departments, role). What it chooses, the pipeline's route step applies: the knowledge
bases to search, narrowed to those the asker may search (a rule never widens access: permissions are
decided before, in ``assistant.access``), the tools allowed, the answer's style, an extra instruction and
the LLM backend to try first.

Rules live in a ``RuleStore`` shared by every process. A ``RuleBook`` keeps them compiled and, before
each use, compares the store's revision (one primary-key read) with the one it loaded: a change saved by
any process applies to the next question, without a restart.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.domain import AnswerGuidance, RouteContext, RoutingRule
from assistant.storage.interfaces import RuleStore
from assistant.text.normalize import detect_language, normalize


@dataclass(frozen=True)
class CompiledRule:
    rule: RoutingRule
    keywords: tuple[str, ...]  # normalised: NFKC, lower case
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: RoutingRule) -> CompiledRule:
        m = rule.match
        pattern = re.compile(m.pattern, re.IGNORECASE) if m.pattern else None
        return cls(rule, tuple(k for k in map(normalize, m.keywords) if k), pattern)

    def matches(self, text: str, language: str, context: RouteContext) -> bool:
        """``text`` is the question normalised (``normalize``); every condition set must hold."""
        m, c = self.rule.match, context
        if self.keywords and not any(k in text for k in self.keywords):
            return False
        if self.pattern is not None and not self.pattern.search(text):
            return False
        if m.languages and language not in m.languages:
            return False
        if m.platforms and c.platform not in m.platforms:
            return False
        if m.chats and not (c.chat_id and (c.chat_id in m.chats or f"{c.platform}:{c.chat_id}" in m.chats)):
            return False
        if m.departments and not set(m.departments) & set(c.departments):
            return False
        if m.roles and c.role not in m.roles:
            return False
        return True


def first_match(rules: Sequence[CompiledRule], question: str, context: RouteContext,
                language: str | None = None) -> RoutingRule | None:
    """The first enabled rule (in the given order) that matches; ``language`` defaults to the question's."""
    text = normalize(question)
    language = language or detect_language(question)
    for compiled in rules:
        if compiled.rule.enabled and compiled.matches(text, language, context):
            return compiled.rule
    return None


@dataclass(frozen=True)
class Route:
    """Where one question goes: the knowledge bases searched, the tools allowed (None: all), how to answer,
    and the rule that decided (None: no rule matched, everything as the caller asked)."""

    kbs: list[str]
    tools: list[str] | None = None
    guidance: AnswerGuidance | None = None
    rule: RoutingRule | None = None
    dropped: list[str] = field(default_factory=list)  # the rule's KBs this question may not search


def route_for(rule: RoutingRule | None, searchable: Sequence[str]) -> Route:
    """Apply ``rule`` to the knowledge bases the question may search: its KBs are kept only where they
    are among those (never added), its tools and guidance are passed on."""
    if rule is None:
        return Route(kbs=list(searchable))
    action = rule.action
    kbs, dropped = list(searchable), []
    if action.kbs is not None:
        allowed = set(searchable)
        kbs = [kb for kb in action.kbs if kb in allowed]
        dropped = [kb for kb in action.kbs if kb not in allowed]
    return Route(kbs=kbs, tools=action.tools, guidance=action.guidance(), rule=rule, dropped=dropped)


class RuleBook:
    """The rules of a ``RuleStore``, compiled, reloaded when (and only when) the store's revision changed."""

    def __init__(self, store: RuleStore):
        self.store = store
        self._lock = threading.Lock()
        self._loaded: tuple[int, list[CompiledRule]] = (-1, [])

    def rules(self) -> list[CompiledRule]:
        revision = self.store.revision()
        loaded_revision, compiled = self._loaded
        if revision == loaded_revision:
            return compiled
        with self._lock:
            if self._loaded[0] != revision:
                # Read after the revision: a change saved in between makes the next call reload again.
                self._loaded = (revision, [CompiledRule.of(r) for r in self.store.list_rules()])
            return self._loaded[1]

    def first(self, question: str, context: RouteContext, *, language: str | None = None) -> RoutingRule | None:
        """The first enabled rule that matches this question from this asker, or None."""
        return first_match(self.rules(), question, context, language)
