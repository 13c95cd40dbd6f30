"""Reading the audit log over HTTP: query it, export it as JSONL or CSV.

    GET /v1/audit?since=&until=&principal=&department=&kb=&doc=&refused=&kind=&channel=&before_id=&limit=
    GET /v1/audit/export?format=jsonl|csv&...the same filters

Admins read every row. A knowledge manager reads the questions and changes that touched only
knowledge bases they may read, never rows about another department's. Nothing here writes the log
but the record of an export itself: the API cannot edit or delete rows (the retention setting purges
old ones).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from assistant.access import may_read, unrestricted
from assistant.app.audit_trail import act_entry
from assistant.app.container import Services
from assistant.app.http_auth import Guard, request_id
from assistant.app.http_limits import ROW_ID_MAX, RowId
from assistant.domain import AuditEntry, AuditKind, AuditQuery, Principal

CSV_COLUMNS = (
    "id", "at", "kind", "channel", "principal_id", "principal_name", "role", "departments", "action", "target",
    "kbs", "question", "rewritten", "answer", "refused", "refusal", "sources", "tool_calls", "latency_ms", "status",
    "request_id",
)


def audit_query(
    since: datetime | None = None,
    until: datetime | None = None,
    principal: str | None = Query(None, max_length=200),
    department: str | None = Query(None, max_length=64),
    kb: str | None = Query(None, max_length=64),
    doc: str | None = Query(None, max_length=200),
    refused: bool | None = None,
    kind: AuditKind | None = None,
    channel: str | None = Query(None, max_length=40),
    before_id: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> AuditQuery:
    return AuditQuery(since=since, until=until, principal=principal, department=department, kb=kb, doc=doc,
                      refused=refused, kind=kind, channel=channel, before_id=before_id, limit=limit)


def visible_to(services: Services, principal: Principal) -> Callable[[AuditEntry], bool]:
    """A filter keeping the rows this principal may read (all of them for an admin)."""
    if unrestricted(principal):
        return lambda entry: True
    readable = {kb.name for kb in services.catalog.list_kbs() if may_read(principal, kb)}
    mine = set(principal.departments)

    def visible(entry: AuditEntry) -> bool:
        if not entry.kbs or not set(entry.kbs) <= readable:
            return False  # sign-ins, key and user changes, other departments' knowledge
        return not entry.departments or bool(mine & set(entry.departments))

    return visible


def visible_rows(services: Services, principal: Principal, query: AuditQuery,
                 limit: int | None) -> Iterator[AuditEntry]:
    """The rows matching ``query`` that this principal may read, newest first, at most ``limit``."""
    visible = visible_to(services, principal)
    shown = 0
    for entry in services.audit.iterate(query, page=200):
        if visible(entry):
            yield entry
            shown += 1
            if limit is not None and shown >= limit:
                return


def audit_router(services: Services, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])
    reader = Depends(guard.role("admin", "knowledge_manager"))

    def rows(principal: Principal, query: AuditQuery, limit: int | None) -> Iterator[AuditEntry]:
        return visible_rows(services, principal, query, limit)

    @router.get("")
    def read(query: AuditQuery = Depends(audit_query), principal: Principal = reader) -> dict:
        entries = list(rows(principal, query, query.limit))
        more = len(entries) == query.limit
        return {
            "entries": entries,
            "next_before_id": entries[-1].id if more and entries else None,
        }

    @router.get("/export")
    def export(
        request: Request,
        format: Literal["jsonl", "csv"] = "jsonl",
        query: AuditQuery = Depends(audit_query),
        principal: Principal = reader,
    ) -> StreamingResponse:
        services.audit.append(act_entry(principal, "audit.export", format, request_id=request_id(request),
                                        detail=query.model_dump(mode="json", exclude_none=True, exclude={"limit"})))
        entries = rows(principal, query.model_copy(update={"limit": 500}), None)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        if format == "jsonl":
            body = (entry.model_dump_json() + "\n" for entry in entries)
            media = "application/x-ndjson"
        else:
            body = csv_rows(entries)
            media = "text/csv; charset=utf-8"
        return StreamingResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"'})

    @router.get("/{entry_id}")
    def one(entry_id: RowId, principal: Principal = reader) -> AuditEntry:
        found = services.audit.query(AuditQuery(before_id=entry_id + 1, limit=1))
        if not found or found[0].id != entry_id or not visible_to(services, principal)(found[0]):
            raise HTTPException(404, f"no audit entry {entry_id}")
        return found[0]

    return router


def csv_rows(entries: Iterator[AuditEntry]) -> Iterator[str]:
    """CSV that spreadsheets open with the Chinese intact (a UTF-8 byte-order mark) and that cannot
    run formulas: a cell starting with = + - @ is quoted with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        data = entry.model_dump(mode="json")
        writer.writerow([_cell(data[c]) for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ";".join(value)
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
