"""Feedback on answers and the curation queue, for the HTTP API and the IM connectors alike.

An answer is its audit row (``Answer.answer_id``). Who may vote on it: the principal who asked it, or
staff (admin, knowledge manager, agent) who may read every knowledge base it searched; for anyone else
it does not exist. One vote per principal and answer, a second replaces the first. A vote down opens a
gap (reason ``downvoted``), as a refusal does (``refused``, from ``Asking.ask``), unless the same
question is open already (then it counts once more).

Gaps are for knowledge managers and admins: a knowledge manager sees the gaps whose knowledge bases
they may all read and whose asker was of no department or of one of theirs (as the audit view
decides), and a gap they may not see does not exist for them. Curating a gap writes an FAQ entry of
one question and its answer into a knowledge base they may write (``KnowledgeBases.curate``),
ingested at once, so the same question is answered from it next; every act is in the audit log.

IM platforms that report reactions (Feishu) feed votes here too: when the gateway has delivered an
answer, the platform's ids of its messages are remembered, and a thumbs up or down on one of them is
that person's vote (the platform's signature proves they were in the chat that saw it).
"""

from __future__ import annotations

from typing import Literal

from assistant.access import may_read, unrestricted
from assistant.app.audit_trail import Actor, act_entry
from assistant.app.container import Services
from assistant.app.knowledge import KnowledgeBases
from assistant.domain import Answer, AuditEntry, AuditQuery, Document, Gap, GapQuery, Principal, Vote
from assistant.errors import AssistantError
from assistant.storage.interfaces import GapPage, ImReply
from connectors.base import IncomingMessage, Reaction

STAFF = ("admin", "knowledge_manager", "agent")


class AnswerNotFound(AssistantError):
    def __init__(self, entry_id: int):
        super().__init__(f"no answer {entry_id}")


class GapNotFound(AssistantError):
    def __init__(self, gap_id: int):
        super().__init__(f"no gap {gap_id}")


class GapClosed(AssistantError):
    def __init__(self, gap: Gap):
        super().__init__(f"gap {gap.id} is {gap.status} already")


class Curation:
    def __init__(self, services: Services, knowledge: KnowledgeBases):
        self.services = services
        self.knowledge = knowledge

    # -- feedback ------------------------------------------------------------------------------
    def vote(self, actor: Actor, entry_id: int, vote: Vote, comment: str = "") -> tuple[bool, Gap | None]:
        """Record the principal's vote on an answer it may see; returns (replaced an earlier vote, the gap a
        vote down opened or counted into)."""
        entry = self.answer(actor.principal, entry_id)
        return self.record_vote(entry, actor.principal.id, vote, channel=actor.channel, comment=comment)

    def answer(self, principal: Principal, entry_id: int) -> AuditEntry:
        """The answer's audit row, if this principal may see it (else ``AnswerNotFound``)."""
        found = self.services.audit.query(AuditQuery(before_id=entry_id + 1, limit=1, kind="question"))
        entry = found[0] if found and found[0].id == entry_id else None
        if entry is None or not self._may_see(principal, entry):
            raise AnswerNotFound(entry_id)
        return entry

    def _may_see(self, principal: Principal, entry: AuditEntry) -> bool:
        if entry.principal_id == principal.id or unrestricted(principal):
            return True
        if principal.role not in STAFF or not entry.kbs:
            return False
        readable = {kb.name for kb in self.services.catalog.list_kbs() if may_read(principal, kb)}
        return set(entry.kbs) <= readable

    def record_vote(self, entry: AuditEntry, principal_id: str, vote: Vote, *, channel: str,
                    comment: str = "") -> tuple[bool, Gap | None]:
        """The vote of a principal that may see the answer (checked by the caller), and its gap."""
        assert entry.id is not None
        feedback = self.services.feedback
        replaced = feedback.vote(entry.id, principal_id, vote, channel=channel, comment=comment[:2000])
        # A refused answer opened (or counted into) its gap when it was given: a vote down adds nothing.
        gap = feedback.open_gap(entry.id, entry, "downvoted") if vote == "down" and not entry.refused else None
        return replaced, gap

    # -- gaps ----------------------------------------------------------------------------------
    def gaps(self, actor: Actor, *, status: Literal["open", "curated", "dismissed"] | None = "open",
             reason: Literal["refused", "downvoted"] | None = None, offset: int = 0, limit: int = 50) -> GapPage:
        query = GapQuery(status=status, reason=reason, offset=max(0, offset), limit=min(max(1, limit), 500))
        principal = actor.principal
        if not unrestricted(principal):
            readable = [kb.name for kb in self.services.catalog.list_kbs() if may_read(principal, kb)]
            query = query.model_copy(update={"readable_kbs": readable, "departments": list(principal.departments)})
        return self.services.feedback.gaps(query)

    def gap(self, actor: Actor, gap_id: int) -> Gap:
        gap = self.services.feedback.gap(gap_id)
        if gap is None or not self._may_curate(actor.principal, gap):
            raise GapNotFound(gap_id)
        return gap

    def _may_curate(self, principal: Principal, gap: Gap) -> bool:
        if unrestricted(principal):
            return True
        readable = {kb.name for kb in self.services.catalog.list_kbs() if may_read(principal, kb)}
        if not gap.kbs or not set(gap.kbs) <= readable:
            return False
        return not gap.departments or bool(set(gap.departments) & set(principal.departments))

    def dismiss(self, actor: Actor, gap_id: int) -> Gap:
        gap = self.gap(actor, gap_id)
        if not self.services.feedback.resolve_gap(gap_id, "dismissed", by=actor.principal.id):
            raise GapClosed(self.gap(actor, gap_id))
        self._record(actor, "gap.dismiss", gap, question=gap.question[:200])
        return self.gap(actor, gap_id)

    def curate(self, actor: Actor, gap_id: int, kb: str, question: str, answer: str) -> tuple[Gap, Document]:
        """Answer a gap with a curated FAQ entry in ``kb`` (write access on it), and close the gap."""
        gap = self.gap(actor, gap_id)
        if gap.status != "open":
            raise GapClosed(gap)
        doc = self.knowledge.curate(actor, kb, question, answer)
        self.services.feedback.resolve_gap(gap_id, "curated", by=actor.principal.id, curated_doc=doc.id)
        self._record(actor, "gap.curate", gap, doc_id=doc.id, kb=kb)
        return self.gap(actor, gap_id), doc

    def _record(self, actor: Actor, action: str, gap: Gap, **detail) -> None:
        self.services.audit.append(act_entry(actor.principal, action, str(gap.id), channel=actor.channel,
                                             kbs=list(gap.kbs), detail=detail, request_id=actor.request_id))


class ImFeedback:
    """The gateway's two hooks for feedback from chats: where an answer went, and reactions to it."""

    def __init__(self, curation: Curation):
        self.curation = curation
        self.services = curation.services

    def delivered(self, message: IncomingMessage, answer: Answer, sent: list[str]) -> None:
        if answer.answer_id is None:
            return
        for message_id in sent:
            self.services.feedback.remember_reply(ImReply(message.platform, message_id, answer.answer_id,
                                                          message.chat_id))

    def reacted(self, reaction: Reaction) -> None:
        """A reaction to one of the bot's answers is the reacting person's vote (others are ignored)."""
        reply = self.services.feedback.reply(reaction.platform, reaction.message_id)
        if reply is None:
            return  # not a message that carried an answer
        principal = self.services.auth.im_principal(reaction.platform, reply.chat_id, reaction.user_id)
        found = self.services.audit.query(AuditQuery(before_id=reply.entry_id + 1, limit=1, kind="question"))
        if not found or found[0].id != reply.entry_id:
            return  # the answer's audit row is past its retention
        self.curation.record_vote(found[0], principal.id, reaction.vote, channel=f"im:{reaction.platform}")
