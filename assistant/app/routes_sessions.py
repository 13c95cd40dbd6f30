"""Live sessions and the sandbox's replay of a chat payload, over HTTP.

    GET  /v1/sessions?platform=&chat=&department=&user=&channel=&refused=&since=&before=&limit=
    GET  /v1/sessions/{id}                       the session and every turn with its trace summary
    POST /v1/replay {platform, bot?, payload}     what the bot would answer; nothing is sent

For admins and knowledge managers. A knowledge manager sees the sessions of their departments'
people that searched only knowledge bases they may read, as in the audit log (``routes_audit``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.access import may_read, unrestricted
from assistant.app.container import Services
from assistant.app.http_auth import Guard
from assistant.domain import AuditEntry, AuditQuery, Principal, Session, SessionQuery
from connectors.base import ConnectorError
from connectors.replay import PLATFORMS, Replay, replay


class ReplayRequest(BaseModel):
    platform: str = Field(description=f"One of {', '.join(PLATFORMS)}.")
    bot: str | None = Field(None, max_length=64, description="A configured bot's name; default: the first.")
    payload: str | dict[str, Any] = Field(description="The callback's plaintext: JSON, or XML for WeCom apps.")


def sessions_router(services: Services, guard: Guard, connectors: Callable[[], Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["sessions"])
    reader = Depends(guard.role("admin", "knowledge_manager"))

    @router.get("/sessions")
    def list_sessions(
        platform: str | None = Query(None, max_length=32),
        chat: str | None = Query(None, max_length=300),
        department: str | None = Query(None, max_length=64),
        user: str | None = Query(None, max_length=300),
        channel: str | None = Query(None, max_length=64),
        refused: bool | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        limit: int = Query(50, ge=1, le=500),
        principal: Principal = reader,
    ) -> dict:
        query = SessionQuery(platform=platform, chat=chat, department=department, user=user, channel=channel,
                             refused=refused, since=since, before=before, limit=limit)
        shown = visible_sessions(services, principal, query)
        more = len(shown) == limit
        return {"sessions": shown, "next_before": shown[-1].last_at if more and shown else None}

    @router.get("/sessions/{session_id:path}")
    def one_session(session_id: str, principal: Principal = reader) -> dict:
        session = visible_session(services, principal, session_id)
        if session is None:
            raise HTTPException(404, f"no session {session_id!r}")
        return {"session": session, "turns": session_turns(services, session_id)}

    @router.post("/replay")
    async def replay_payload(body: ReplayRequest, principal: Principal = reader) -> dict:
        try:
            result = await run_in_threadpool(replay_as, services, connectors(), principal, body.platform,
                                             body.payload, body.bot)
        except NoSuchBot as exc:
            raise HTTPException(404, str(exc)) from exc
        except ConnectorError as exc:
            raise HTTPException(400, str(exc)) from exc
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from exc
        return {"platform": result.platform, "decision": result.decision, "message": result.message,
                "answer": result.answer, "replies": result.replies}

    return router


# -- shared with the console's pages (``console/pages_sessions.py``, ``console/pages_replay.py``) ----------
def session_filter(services: Services, principal: Principal) -> Callable[[Session], bool]:
    """Which sessions this principal may see: all for an admin; for a knowledge manager, those that
    searched only knowledge bases they may read, of their departments' people (or of no department)."""
    if unrestricted(principal):
        return lambda session: True
    readable = {kb.name for kb in services.catalog.list_kbs() if may_read(principal, kb)}
    mine = set(principal.departments)
    return lambda s: bool(s.kbs) and set(s.kbs) <= readable and (not s.departments or bool(mine & set(s.departments)))


def visible_sessions(services: Services, principal: Principal, query: SessionQuery) -> list[Session]:
    """Up to ``query.limit`` sessions matching ``query`` that the principal may see, most recent first."""
    visible = session_filter(services, principal)
    limit = query.limit
    shown: list[Session] = []
    while len(shown) < limit:  # a knowledge manager's view is filtered: read on until the page is full
        batch = services.sessions.query(query)
        shown += [s for s in batch if visible(s)][: limit - len(shown)]
        if len(batch) < query.limit:
            break
        query = query.model_copy(update={"before": batch[-1].last_at})
    return shown


def visible_session(services: Services, principal: Principal, session_id: str) -> Session | None:
    """The session, or None when there is none or the principal may not see it (the same to them)."""
    session = services.sessions.get(session_id)
    return session if session is not None and session_filter(services, principal)(session) else None


def session_turns(services: Services, session_id: str) -> list[AuditEntry]:
    """A session's questions, oldest first, as they were asked."""
    return list(reversed(list(services.audit.iterate(AuditQuery(conversation=session_id, kind="question")))))


class NoSuchBot(LookupError):
    """A replay named a bot that is not configured for its platform."""


def replay_as(services: Services, wired: Any, principal: Principal, platform: str, payload: str | dict[str, Any],
              bot: str | None = None) -> Replay:
    """Replay ``payload`` through the running gateway (``wired``: the connectors) for ``principal``,
    sending nothing. A knowledge manager may replay only senders who read nothing they may not read
    themselves (``PermissionError``); a bad payload is a ``ConnectorError``."""
    configured = [c for c in wired.registry if c.platform == platform]
    channel = None
    if bot:
        channel = next((c for c in configured if c.bot == bot), None)
        if channel is None:
            raise NoSuchBot(f"no {platform} bot named {bot!r}")
    elif configured and platform in ("dingtalk", "feishu"):
        channel = configured[0]

    def within_reach(message) -> None:
        if unrestricted(principal):
            return
        sender = services.auth.im_principal(message.platform, message.chat_id, message.sender_id)
        if any(may_read(sender, kb) and not may_read(principal, kb) for kb in services.catalog.list_kbs()):
            raise PermissionError("this payload's sender reads knowledge bases you may not; ask an admin")

    return replay(platform, payload, wired.gateway, channel, within_reach)
