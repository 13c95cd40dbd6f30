"""Routing rules as use cases, called alike by the HTTP API and the command line, and their seeding.

A rule is checked against this server before it is saved: the knowledge bases, departments, tools and
LLM backend it names must exist (``InvalidRule`` names the field), the platforms must be known. Every
change names its actor and goes into the audit log. ``try_rule`` says which rule a question would
meet and which knowledge bases it would search, for an asker described by platform, chat, role...

The settings that routed IM questions before rules existed become rules at the first start
(``seed_from_settings``): each ``ASSISTANT_CONNECTORS__GATEWAY__GROUPS`` entry with a ``kb`` list a
rule for its chat, ``ASSISTANT_CONNECTORS__GATEWAY__KB`` a rule for every IM platform after them (source
``settings``; seeded once each: one an administrator deleted is not made again), and each
``ASSISTANT_AUDIENCE__GROUPS`` entry an IM rule (staff -> agent, customer -> customer) unless one for
that chat exists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from assistant.access import scope_for
from assistant.answer.chain import EXTRACTIVE
from assistant.app.audit_trail import Actor, act_entry
from assistant.domain import (
    ImRule,
    Language,
    Principal,
    Role,
    RouteContext,
    RoutingRule,
    RuleAction,
    RuleMatch,
    RuleSource,
    RuleSpec,
    RuleVersion,
)
from assistant.errors import InvalidRule, UnknownRule
from assistant.rules import route_for
from assistant.storage.interfaces import Directory, RuleStore
from assistant.text.normalize import detect_language
from connectors import dingtalk, feishu, wecom, wecom_bot
from connectors.settings import GatewaySettings

if TYPE_CHECKING:
    from assistant.app.container import Services
    from assistant.app.settings import Settings

log = logging.getLogger(__name__)

IM_PLATFORMS = (dingtalk.PLATFORM, feishu.PLATFORM, wecom.PLATFORM, wecom_bot.PLATFORM)
DOORS = ("api", "openai", "cli", "console")  # what a rule's platforms may name besides an IM platform
SEEDED_BY = "settings"
SOURCES = ("api", "cli", "console")  # the channels a rule made by a person is marked with


class RuleTrial(BaseModel):
    """What a question from a described asker would meet: the rule (None: no rule matches) and the
    knowledge bases searched, with the rule's KBs this asker may not search."""

    rule: RoutingRule | None
    kbs: list[str]
    dropped: list[str] = Field(default_factory=list)
    language: str
    role: Role
    departments: list[str] = Field(default_factory=list)


class RoutingRules:
    def __init__(self, services: Services):
        self.services = services
        self.store = services.rule_store

    # -- reading -------------------------------------------------------------------------------
    def list_rules(self) -> list[RoutingRule]:
        return self.store.list_rules()

    def get(self, rule_id: int) -> RoutingRule:
        rule = self.store.get(rule_id)
        if rule is None:
            raise UnknownRule(rule_id)
        return rule

    def history(self, rule_id: int) -> list[RuleVersion]:
        versions = self.store.history(rule_id)
        if not versions:
            raise UnknownRule(rule_id)
        return versions

    # -- changing ------------------------------------------------------------------------------
    def create(self, spec: RuleSpec, actor: Actor, *, position: int | None = None) -> RoutingRule:
        self.check(spec)
        source: RuleSource = actor.channel if actor.channel in SOURCES else "api"  # type: ignore[assignment]
        rule = self.store.create(spec, by=actor.principal.id, source=source, position=position)
        self._audit(actor, "rule.create", rule)
        return rule

    def update(self, rule_id: int, spec: RuleSpec, actor: Actor, *, expected_version: int | None = None) -> RoutingRule:
        self.get(rule_id)  # an unknown id is a 404 before the spec is judged
        self.check(spec)
        rule = self.store.update(rule_id, spec, by=actor.principal.id, expected_version=expected_version)
        self._audit(actor, "rule.update", rule)
        return rule

    def move(self, rule_id: int, position: int, actor: Actor) -> RoutingRule:
        rule = self.store.move(rule_id, position, by=actor.principal.id)
        self._audit(actor, "rule.move", rule)
        return rule

    def delete(self, rule_id: int, actor: Actor) -> RoutingRule:
        rule = self.store.delete(rule_id, by=actor.principal.id)
        self._audit(actor, "rule.delete", rule)
        return rule

    def _audit(self, actor: Actor, action: str, rule: RoutingRule) -> None:
        self.services.audit.append(act_entry(
            actor.principal, action, str(rule.id), channel=actor.channel, kbs=list(rule.action.kbs or []),
            request_id=actor.request_id,
            detail={"name": rule.name, "version": rule.version, "position": rule.position,
                    "rule": rule.spec().model_dump(mode="json")},
        ))

    # -- checking ------------------------------------------------------------------------------
    def check(self, spec: RuleSpec) -> None:
        """Raise ``InvalidRule`` naming the field when the rule names what this server does not have."""
        s = self.services
        m, a = spec.match, spec.action
        _known("match.platforms", m.platforms, [*IM_PLATFORMS, *DOORS], "platform")
        _known("match.departments", m.departments, [d.name for d in s.directory.list_departments()], "department")
        if a.kbs is not None:
            _known("action.kbs", a.kbs, [kb.name for kb in s.catalog.list_kbs()], "knowledge base")
        if a.tools:
            registry = s.tool_stage.registry if s.tool_stage is not None else None
            names = [t["function"]["name"] for t in registry.specs()] if registry is not None else []
            _known("action.tools", a.tools, names, "tool")
        if a.backend is not None:
            _known("action.backend", [a.backend], [*(b.name for b in s.answer_chain.backends), EXTRACTIVE],
                   "LLM backend")

    # -- trying --------------------------------------------------------------------------------
    def try_rule(self, question: str, *, platform: str | None = None, chat_id: str | None = None,
                 user_id: str | None = None, departments: Sequence[str] | None = None, role: Role | None = None,
                 language: Language | None = None) -> RuleTrial:
        """The rule a question would meet and the knowledge bases it would search. The asker's role and
        departments are those given, or for an IM chat with no role given what the IM rules say."""
        s = self.services
        if role is None and platform in IM_PLATFORMS and chat_id:
            asker = s.auth.im_principal(platform, chat_id, user_id or "")
            if departments is not None:
                asker = asker.model_copy(update={"departments": list(departments)})
        else:
            asker = Principal(kind="api_key", id="rule-trial", role=role or "agent",
                              departments=list(departments or []))
        channel = f"im:{platform}" if platform in IM_PLATFORMS else (platform or "api")
        context = RouteContext(platform=platform or "api", chat_id=chat_id, user_id=user_id,
                               departments=asker.departments, role=asker.role, channel=channel)
        language = language or detect_language(question)  # type: ignore[assignment]
        rule = s.rule_book.first(question, context, language=language)
        route = route_for(rule, scope_for(asker, s.catalog.list_kbs()).kbs)
        return RuleTrial(rule=rule, kbs=route.kbs, dropped=route.dropped, language=language or "",
                         role=asker.role, departments=asker.departments)


def _known(field: str, given: Sequence[str], known: Sequence[str], what: str) -> None:
    missing = [g for g in given if g not in known]
    if missing:
        choices = ", ".join(known) if known else "none here"
        raise InvalidRule(field, f"no {what} {', '.join(map(repr, missing))} (known: {choices})")


# -- seeding from the settings rules replaced ---------------------------------------------------------
def rules_from_settings(gateway: GatewaySettings) -> list[RuleSpec]:
    """The gateway's group -> knowledge bases settings as rules: one per chat, then the IM default."""
    specs = [
        RuleSpec(name=f"settings: chat {chat}", match=RuleMatch(chats=[chat]), action=RuleAction(kbs=group.kb))
        for chat, group in gateway.groups.items() if group.kb is not None
    ]
    if gateway.kb is not None:
        specs.append(RuleSpec(name="settings: IM default", match=RuleMatch(platforms=list(IM_PLATFORMS)),
                              action=RuleAction(kbs=gateway.kb)))
    return specs


def im_rules_from_settings(groups: dict[str, str], existing: Sequence[ImRule]) -> list[ImRule]:
    """``ASSISTANT_AUDIENCE__GROUPS`` ("platform:chat" or "chat" -> staff | customer) as IM rules, for the
    chats no IM rule names yet."""
    taken = {(r.platform or None, r.chat_id) for r in existing if r.chat_id and not r.user_id}
    rules = []
    for key, audience in groups.items():
        head, _, rest = key.partition(":")
        platform, chat = (head, rest) if rest and head in IM_PLATFORMS else (None, key)
        if (platform, chat) in taken:
            continue
        taken.add((platform, chat))
        rules.append(ImRule(platform=platform, chat_id=chat, role="agent" if audience == "staff" else "customer",
                            note=f"from ASSISTANT_AUDIENCE__GROUPS ({audience})"))
    return rules


def seed_from_settings(settings: Settings, store: RuleStore, directory: Directory) -> None:
    """Make the rules that replace the old routing settings (see the module's docstring); idempotent."""
    for rule in store.seed(rules_from_settings(settings.connectors.gateway), source="settings", by=SEEDED_BY):
        log.info("routing rule %s made from the settings (edit or delete it with /v1/rules)", rule.ref().label())
    for rule in im_rules_from_settings(dict(settings.audience.groups), directory.list_im_rules()):
        added = directory.add_im_rule(rule)
        log.info("IM rule %s made from ASSISTANT_AUDIENCE__GROUPS: %s:%s -> %s", added.id, added.platform or "*",
                 added.chat_id, added.role)
