"""The audit log page, for admins and knowledge managers: the ``/v1/audit`` query with its filters
(dates, principal, department, knowledge base, document, refused, kind, channel), paged newest first by
row id, and export links to ``/v1/audit/export``. What a viewer may read is decided by
``routes_audit.visible_rows``, the same code the API uses."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assistant.app.console.web import MANAGERS, PAGE_SIZE, Pages, Paging, Viewer, page_number, with_query
from assistant.app.routes_audit import visible_rows
from assistant.domain import AuditQuery

KINDS = ("question", "admin", "login")
FILTERS = ("since", "until", "principal", "department", "kb", "doc", "refused", "kind", "channel")


def day_start(text: str, *, next_day: bool = False) -> datetime | None:
    """The local midnight starting a ``YYYY-MM-DD`` day (or the day after it); None if it is no date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time.min).astimezone()


def audit_router(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    services = pages.services

    @router.get("/audit")
    def audit(request: Request, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        t = pages.translator(request)
        given = {name: request.query_params.get(name, "").strip()[:200] for name in FILTERS}
        since, until = day_start(given["since"]), day_start(given["until"], next_day=True)
        bad = [name for name in ("since", "until") if given[name] and day_start(given[name]) is None]
        query = AuditQuery(
            since=since, until=until, principal=given["principal"] or None, department=given["department"] or None,
            kb=given["kb"] or None, doc=given["doc"] or None,
            refused={"yes": True, "no": False}.get(given["refused"]),
            kind=given["kind"] if given["kind"] in KINDS else None, channel=given["channel"] or None,
            before_id=_int(request.query_params.get("before_id")), limit=PAGE_SIZE,
        )
        entries = list(visible_rows(services, viewer.principal, query, PAGE_SIZE + 1))
        base = with_query("/console/audit", **given)
        number = page_number(request.query_params.get("page"))
        more = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        next_url = with_query("/console/audit", **given, before_id=entries[-1].id, page=number + 1) if more else None
        # The export takes the same filters, as the API spells them.
        exported = {**{k: v for k, v in given.items() if k not in ("since", "until", "refused", "kind")},
                    "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
                    "refused": {"yes": "true", "no": "false"}.get(given["refused"]), "kind": query.kind}
        return pages.render(
            request, "audit.html", viewer, active="audit", entries=entries, filters=given, kinds=KINDS,
            paging=Paging(page=number, size=PAGE_SIZE, total=None, base=base, next_url=next_url),
            export_jsonl=with_query("/v1/audit/export", format="jsonl", **exported),
            export_csv=with_query("/v1/audit/export", format="csv", **exported),
            error=t("audit.bad_date") if bad else "",
        )

    return router


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
