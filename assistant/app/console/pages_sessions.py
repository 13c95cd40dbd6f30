"""Live sessions, for admins and knowledge managers: conversations as they arrive from IM chats, the
API, the OpenAI-compatible endpoint and the console, most recently active first, filtered by platform,
group / chat, department, user, channel and refusal, paged by last activity (keyset: older / newer).

The newest page follows new turns without a reload: ``console.js`` fetches the same URL with
``rows=1`` every few seconds and swaps in the table's rows, rendered here from the same template.
A session's page shows every turn with its answer, sources and trace (as its audit row kept it).
What a viewer may see is decided by ``routes_sessions`` (``visible_sessions``), the code the API uses.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assistant.access import unrestricted
from assistant.app.audit_trail import recorded_trace
from assistant.app.console.pages_ask import STAGES
from assistant.app.console.web import MANAGERS, PAGE_SIZE, PageError, Pages, Paging, Viewer, page_number, with_query
from assistant.app.routes_sessions import session_turns, visible_session, visible_sessions
from assistant.domain import Answer, SessionQuery
from connectors.replay import PLATFORMS

FILTERS = ("platform", "chat", "department", "user", "channel", "refused")
CHANNELS = ("api", "openai", "console", "cli", *(f"im:{p}" for p in PLATFORMS), *(f"replay:{p}" for p in PLATFORMS))
LIVE_EVERY_MS = 3000


def sessions_router(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    services = pages.services

    @router.get("/sessions")
    def sessions(request: Request, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        given = {name: request.query_params.get(name, "").strip()[:200] for name in FILTERS}
        before = _moment(request.query_params.get("before"))
        query = SessionQuery(
            platform=given["platform"] or None, chat=given["chat"] or None, department=given["department"] or None,
            user=given["user"] or None, channel=given["channel"] or None,
            refused={"yes": True, "no": False}.get(given["refused"]), before=before, limit=PAGE_SIZE + 1,
        )
        found = visible_sessions(services, viewer.principal, query)
        shown, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
        if request.query_params.get("rows"):  # the live board's refresh: the rows alone
            return pages.render(request, "_session_rows.html", viewer, sessions=shown)
        number = page_number(request.query_params.get("page"))
        base = with_query("/console/sessions", **given)
        next_url = with_query("/console/sessions", **given, before=shown[-1].last_at.isoformat(),
                              page=number + 1) if more else None
        departments = [d.name for d in services.directory.list_departments()] \
            if unrestricted(viewer.principal) else list(viewer.principal.departments)
        return pages.render(
            request, "sessions.html", viewer, active="sessions", sessions=shown, filters=given,
            platforms=PLATFORMS, channels=CHANNELS, departments=departments,
            paging=Paging(page=number, size=PAGE_SIZE, total=None, base=base, next_url=next_url),
            live_url=with_query("/console/sessions", **given, rows=1) if before is None else "",
            live_every_ms=LIVE_EVERY_MS,
        )

    @router.get("/sessions/{session_id:path}")
    def session(request: Request, session_id: str, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        found = visible_session(services, viewer.principal, session_id)
        if found is None:  # another department's conversation is as absent as one that never was
            raise PageError(404, "error.no_session")
        turns = [(entry, Answer(question=entry.question, answer=entry.answer, refused=bool(entry.refused),
                                trace=recorded_trace(entry), answer_id=entry.id))
                 for entry in session_turns(services, session_id)]
        ids = {hit.chunk_id for _, answer in turns for hits in answer.trace.stages.values() for hit in hits}
        located = {cid: live.chunk for cid, live in services.catalog.resolve(ids).items()} if ids else {}
        return pages.render(request, "session.html", viewer, active="sessions", session=found, turns=turns,
                            stages=STAGES, located=located)

    return router


def _moment(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
