"""Every front door asks through here: the HTTP API, the OpenAI-compatible endpoint, IM chats, the CLI.

The principal decides everything a question may touch: the knowledge bases searched (``access``),
whether tool results are for staff or a customer, which conversation it continues (conversations
are keyed by principal: two callers never share memory, whatever ids they send), how often it may
ask; and the audit log records the question, what was searched, the sources cited with their
versions, the tool calls with their (masked) results, the routing rule that applied, the answer and
how long it took. Every answer is counted in the metrics by its front door (the channel's first part:
api, openai, console, im, replay, cli) and carries the request id in its trace, as the audit row does. Who asks from where (platform, chat, role, departments, channel) is also what the
routing rules match on: they may narrow the knowledge bases searched, never widen them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Literal, Protocol

from assistant.access import Forbidden, may_read, scope_for, unrestricted
from assistant.app.audit_trail import question_entry
from assistant.app.container import Services
from assistant.domain import Answer, Principal, RouteContext, Turn
from assistant.errors import RateLimited
from assistant.tools.base import Caller
from connectors.base import IncomingMessage


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
        audience: Literal["staff", "customer"] | None = None,
    ) -> Answer:
        """Answer for this principal, within what it may read; recorded in the audit log.

        ``limited=False`` when the front door counted the request already (the IM gateway does, and
        answers an over-eager asker with a polite notice instead). ``audience`` (whom tool results are
        for) other than the principal's own is for admins only: the console's sandbox shows what a
        customer would be told."""
        if limited:
            self.check_rate(principal, group)
        started = time.perf_counter()
        scope = scope_for(principal, self.services.catalog.list_kbs(), kbs)
        if audience is not None and audience != scope.audience:
            if not unrestricted(principal):
                raise Forbidden("asking for another audience takes the admin role")
            scope = scope.model_copy(update={"audience": audience})
        caller = Caller(
            platform=principal.platform or principal.kind, chat_id=principal.chat_id, user_id=principal.user_id,
            role=None, customer_id=principal.customer_id, audience=scope.audience, principal_id=principal.id,
        )
        conversation_id = f"{principal.id}|{conversation}" if conversation else None
        context = RouteContext(platform=principal.platform or channel, chat_id=principal.chat_id,
                               user_id=principal.user_id, departments=list(principal.departments), role=principal.role,
                               channel=channel)
        answer = self.services.default_pipeline.ask(
            question, kb_ids=scope.kbs, caller=caller, history=history, conversation_id=conversation_id,
            context=context,
        )
        latency = (time.perf_counter() - started) * 1000
        answer.trace.request_id = request_id
        self.services.metrics.answered(channel.split(":", 1)[0], answer)
        session = conversation_id or f"{principal.id}|r:{request_id or uuid.uuid4().hex}"
        rule = answer.trace.rule
        entry = question_entry(principal, channel, answer, latency, request_id).model_copy(
            update={"conversation_id": session, "rule": rule.label() if rule else None})
        if scope.audience != principal.audience:
            entry.detail["audience"] = scope.audience
        entry_id = self.services.audit.append(entry)
        if answer.refused:  # the curation queue: a knowledge manager may write the missing answer
            self.services.feedback.open_gap(entry_id, entry, "refused")
        self.services.sessions.record(session, principal, entry)
        return answer.model_copy(update={"answer_id": entry_id})

    def check_rate(self, principal: Principal, group: str | None = None) -> None:
        a = self.services.settings.auth
        if not self.limiter.allow(f"principal:{principal.id}", a.requests_per_minute, 60):
            raise RateLimited("this account" if principal.kind != "im" else "this person", a.requests_per_minute)
        if group and not self.limiter.allow(f"group:{group}", a.group_requests_per_minute, 60):
            raise RateLimited("this group", a.group_requests_per_minute)


class ImResponder:
    """The gateway's responder: a verified IM sender becomes a principal (IM rules, bindings); which
    knowledge bases a chat searches is the routing rules' business (the settings' chat -> knowledge
    bases became rules at the first start), within what the principal may read."""

    def __init__(self, asking: Asking):
        self.asking = asking

    def respond(self, message: IncomingMessage) -> Answer:
        services = self.asking.services
        principal = services.auth.im_principal(message.platform, message.chat_id, message.sender_id)
        kbs = None
        if message.kb_ids is not None:  # asked for explicitly: narrowed to what the principal may read
            readable = {kb.name for kb in services.catalog.list_kbs() if may_read(principal, kb)}
            kbs = [kb for kb in message.kb_ids if kb in readable]  # [] searches nothing: a refusal, not an error
        return self.asking.ask(
            principal, message.text, channel=f"{'replay' if message.replayed else 'im'}:{message.platform}", kbs=kbs,
            conversation="replay" if message.replayed else "chat",
            request_id=message.message_id, limited=False,  # the gateway limits per person and group
        )
