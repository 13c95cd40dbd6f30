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
from assistant.domain import AuditQuery, Principal, Session, SessionQuery
from connectors.base import ConnectorError
from connectors.replay import PLATFORMS, replay


class ReplayRequest(BaseModel):
    platform: str = Field(description=f"One of {', '.join(PLATFORMS)}.")
    bot: str | None = Field(None, max_length=64, description="A configured bot's name; default: the first.")
    payload: str | dict[str, Any] = Field(description="The callback's plaintext: JSON, or XML for WeCom apps.")


def sessions_router(services: Services, guard: Guard, connectors: Callable[[], Any]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["sessions"])
    reader = Depends(guard.role("admin", "knowledge_manager"))

    def visible_to(principal: Principal) -> Callable[[Session], bool]:
        if unrestricted(principal):
            return lambda session: True
        readable = {kb.name for kb in services.catalog.list_kbs() if may_read(principal, kb)}
        mine = set(principal.departments)
        return lambda s: bool(s.kbs) and set(s.kbs) <= readable and (not s.departments or bool(mine & set(s.departments)))

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
        visible = visible_to(principal)
        shown: list[Session] = []
        while len(shown) < limit:  # a knowledge manager's view is filtered: read on until the page is full
            batch = services.sessions.query(query)
            shown += [s for s in batch if visible(s)][: limit - len(shown)]
            if len(batch) < query.limit:
                break
            query = query.model_copy(update={"before": batch[-1].last_at})
        more = len(shown) == limit
        return {"sessions": shown, "next_before": shown[-1].last_at if more and shown else None}

    @router.get("/sessions/{session_id:path}")
    def one_session(session_id: str, principal: Principal = reader) -> dict:
        session = services.sessions.get(session_id)
        if session is None or not visible_to(principal)(session):
            raise HTTPException(404, f"no session {session_id!r}")
        turns = list(services.audit.iterate(AuditQuery(conversation=session_id, kind="question")))
        return {"session": session, "turns": list(reversed(turns))}  # oldest first, as they were asked

    @router.post("/replay")
    async def replay_payload(body: ReplayRequest, principal: Principal = reader) -> dict:
        wired = connectors()
        channel = None
        configured = [c for c in wired.registry if c.platform == body.platform]
        if body.bot:
            channel = next((c for c in configured if c.bot == body.bot), None)
            if channel is None:
                raise HTTPException(404, f"no {body.platform} bot named {body.bot!r}")
        elif configured and body.platform in ("dingtalk", "feishu"):
            channel = configured[0]
        def within_reach(message) -> None:
            """A knowledge manager may replay only senders who read nothing they may not read themselves."""
            if unrestricted(principal):
                return
            sender = services.auth.im_principal(message.platform, message.chat_id, message.sender_id)
            kbs = services.catalog.list_kbs()
            if any(may_read(sender, kb) and not may_read(principal, kb) for kb in kbs):
                raise PermissionError("this payload's sender reads knowledge bases you may not; ask an admin")

        try:
            result = await run_in_threadpool(replay, body.platform, body.payload, wired.gateway, channel, within_reach)
        except ConnectorError as exc:
            raise HTTPException(400, str(exc)) from exc
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from exc
        return {"platform": result.platform, "decision": result.decision, "message": result.message,
                "answer": result.answer, "replies": result.replies}

    return router
