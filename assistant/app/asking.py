"""Every front door asks through here: the HTTP API, the OpenAI-compatible endpoint, IM chats, the CLI.

The principal decides everything a question may touch: the knowledge bases searched (``access``),
whether tool results are for staff or a customer, which conversation it continues (conversations
are keyed by principal: two callers never share memory, whatever ids they send), how often it may
ask; and the audit log records the question, what was searched, the sources cited with their
versions, the tool calls with their (masked) results, the answer and how long it took.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Protocol

from assistant.access import may_read, scope_for
from assistant.app.audit_trail import question_entry
from assistant.app.container import Services
from assistant.domain import Answer, Principal, Turn
from assistant.errors import RateLimited
from assistant.tools.base import Caller
from connectors.base import IncomingMessage
from connectors.settings import GatewaySettings


class Limiter(Protocol):
    """The gateway's in-process sliding window, or Redis across replicas."""

    def allow(self, key: str, limit: int, window_s: float) -> bool: ...


class Asking:
    def __init__(self, services: Services, limiter: Limiter):
        self.services = services
        self.limiter = limiter

    def ask(
        self,
        principal: Principal,
        question: str,
        *,
        channel: str,
        kbs: Sequence[str] | None = None,
        conversation: str | None = None,
        history: Sequence[Turn] = (),
        request_id: str = "",
        group: str | None = None,
        limited: bool = True,
    ) -> Answer:
        """Answer for this principal, within what it may read; recorded in the audit log.

        ``limited=False`` when the front door counted the request already (the IM gateway does, and
        answers an over-eager asker with a polite notice instead)."""
        if limited:
            self.check_rate(principal, group)
        started = time.perf_counter()
        scope = scope_for(principal, self.services.catalog.list_kbs(), kbs)
        caller = Caller(
            platform=principal.platform or principal.kind, chat_id=principal.chat_id, user_id=principal.user_id,
            role=None, customer_id=principal.customer_id, audience=scope.audience, principal_id=principal.id,
        )
        conversation_id = f"{principal.id}|{conversation}" if conversation else None
        answer = self.services.default_pipeline.ask(
            question, kb_ids=scope.kbs, caller=caller, history=history, conversation_id=conversation_id,
        )
        latency = (time.perf_counter() - started) * 1000
        session = conversation_id or f"{principal.id}|r:{request_id or uuid.uuid4().hex}"
        entry = question_entry(principal, channel, answer, latency, request_id).model_copy(
            update={"conversation_id": session})
        entry_id = self.services.audit.append(entry)
        self.services.sessions.record(session, principal, entry)
        return answer.model_copy(update={"answer_id": entry_id})

    def check_rate(self, principal: Principal, group: str | None = None) -> None:
        a = self.services.settings.auth
        if not self.limiter.allow(f"principal:{principal.id}", a.requests_per_minute, 60):
            raise RateLimited("this account" if principal.kind != "im" else "this person", a.requests_per_minute)
        if group and not self.limiter.allow(f"group:{group}", a.group_requests_per_minute, 60):
            raise RateLimited("this group", a.group_requests_per_minute)


class ImResponder:
    """The gateway's responder: a verified IM sender becomes a principal (IM rules, bindings), and the
    knowledge bases the chat is configured for are narrowed to those the principal may read."""

    def __init__(self, asking: Asking, gateway: GatewaySettings):
        self.asking = asking
        self.gateway = gateway

    def respond(self, message: IncomingMessage) -> Answer:
        services = self.asking.services
        principal = services.auth.im_principal(message.platform, message.chat_id, message.sender_id)
        configured = self.configured_kbs(message)
        kbs = None
        if configured is not None:
            readable = {kb.name for kb in services.catalog.list_kbs() if may_read(principal, kb)}
            kbs = [kb for kb in configured if kb in readable]  # [] searches nothing: a refusal, not an error
        return self.asking.ask(
            principal, message.text, channel=f"{'replay' if message.replayed else 'im'}:{message.platform}", kbs=kbs,
            conversation="replay" if message.replayed else "chat",
            request_id=message.message_id, limited=False,  # the gateway limits per person and group
        )

    def configured_kbs(self, message: IncomingMessage) -> list[str] | None:
        if message.kb_ids is not None:
            return list(message.kb_ids)
        rule = self.gateway.groups.get(message.chat_id)
        if rule is not None and rule.kb is not None:
            return rule.kb
        return self.gateway.kb
