"""Who may read and write which knowledge base: decided here, from the principal and the KB alone.

A knowledge base belongs to one department (or to none: open to every department); other departments
may be granted reading. Admins and the local command line read and write everything. A knowledge
manager writes the knowledge bases of their departments and the open ones. Everyone else reads only.
The pipeline asks :func:`scope_for` once per question, before retrieval: a knowledge base left out here
is never searched, so no hit, citation, FAQ match, trace or audit row of the request can show it.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.domain import KnowledgeBase, Principal, Scope
from assistant.errors import AssistantError, UnknownKnowledgeBase


class Forbidden(AssistantError):
    """The principal may not do this; the message says what role or department it takes."""


def unrestricted(principal: Principal) -> bool:
    return principal.is_admin or principal.kind == "local"


def may_read(principal: Principal, kb: KnowledgeBase) -> bool:
    if unrestricted(principal) or kb.department is None:
        return True
    mine = set(principal.departments)
    return kb.department in mine or bool(mine & set(kb.readers))


def may_write(principal: Principal, kb: KnowledgeBase) -> bool:
    if unrestricted(principal):
        return True
    return principal.role == "knowledge_manager" and (kb.department is None or kb.department in principal.departments)


def require_write(principal: Principal, kb: KnowledgeBase) -> None:
    if not may_read(principal, kb):
        raise UnknownKnowledgeBase(kb.name)  # a KB one may not read does not exist for them
    if not may_write(principal, kb):
        owner = f"department {kb.department!r}" if kb.department else "any department"
        raise Forbidden(f"changing knowledge base {kb.name!r} takes the knowledge_manager role in {owner}, or admin")


def scope_for(principal: Principal, kbs: Sequence[KnowledgeBase], requested: Sequence[str] | None = None) -> Scope:
    """The knowledge bases this principal's question searches: the ones asked for (each must be
    readable, else it does not exist for them; an empty list searches nothing), or with ``None`` every
    readable one."""
    readable = [kb.name for kb in kbs if may_read(principal, kb)]
    if requested is not None:
        for name in requested:
            if name not in readable:
                raise UnknownKnowledgeBase(name)
        chosen = list(dict.fromkeys(requested))
    else:
        chosen = readable
    return Scope(kbs=chosen, audience=principal.audience)
