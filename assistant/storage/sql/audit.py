"""The audit log in SQL: appended to, queried, exported, purged after the retention period; never
edited (see ``AuditLog``). The knowledge bases and documents of a row are also kept in two narrow
tables so "every answer citing this SOP" is an indexed lookup, not a scan of JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from assistant.domain import AuditEntry, AuditQuery
from assistant.storage.sql.schema import audit_log, audit_log_docs, audit_log_kbs

_JSON_FIELDS = ("departments", "kbs", "sources", "tool_calls", "detail")


class SqlAuditLog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def append(self, entry: AuditEntry) -> int:
        row = entry.model_dump(exclude={"id"})
        for name in _JSON_FIELDS:
            row[name] = json.dumps(row[name], ensure_ascii=False, default=str)
        docs = sorted({s.get("doc_id") for s in entry.sources if s.get("doc_id")})
        with self.engine.begin() as conn:
            entry_id = int(conn.execute(insert(audit_log).values(**row)).inserted_primary_key[0])
            if entry.kbs:
                conn.execute(insert(audit_log_kbs), [{"entry_id": entry_id, "kb": kb} for kb in dict.fromkeys(entry.kbs)])
            if docs:
                conn.execute(insert(audit_log_docs), [{"entry_id": entry_id, "doc_id": d} for d in docs])
        return entry_id

    def query(self, query: AuditQuery) -> list[AuditEntry]:
        """Rows matching every filter given, newest first, at most ``query.limit``."""
        stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(max(1, min(query.limit, 1000)))
        if query.since is not None:
            stmt = stmt.where(audit_log.c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(audit_log.c.at < query.until)
        if query.principal:
            stmt = stmt.where(audit_log.c.principal_id == query.principal)
        if query.department:
            stmt = stmt.where(audit_log.c.departments.like(f"%{json.dumps(query.department, ensure_ascii=False)}%"))
        if query.kb:
            stmt = stmt.where(audit_log.c.id.in_(select(audit_log_kbs.c.entry_id).where(audit_log_kbs.c.kb == query.kb)))
        if query.doc:
            stmt = stmt.where(audit_log.c.id.in_(
                select(audit_log_docs.c.entry_id).where(audit_log_docs.c.doc_id == query.doc)))
        if query.refused is not None:
            stmt = stmt.where(audit_log.c.refused.is_(query.refused))
        if query.kind:
            stmt = stmt.where(audit_log.c.kind == query.kind)
        if query.channel:
            stmt = stmt.where(audit_log.c.channel == query.channel)
        if query.conversation:
            stmt = stmt.where(audit_log.c.conversation_id == query.conversation)
        if query.before_id is not None:
            stmt = stmt.where(audit_log.c.id < query.before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [_entry(r) for r in rows]

    def iterate(self, query: AuditQuery, page: int = 500) -> Iterator[AuditEntry]:
        """Every matching row, newest first, a page at a time (for exports of any size)."""
        before = query.before_id
        while True:
            rows = self.query(query.model_copy(update={"before_id": before, "limit": page}))
            yield from rows
            if len(rows) < page:
                return
            before = rows[-1].id

    def purge(self, older_than: datetime) -> int:
        """Delete rows older than ``older_than`` (the retention setting); returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(audit_log).where(audit_log.c.at < older_than)).rowcount or 0

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _entry(row) -> AuditEntry:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name] or ("{}" if name == "detail" else "[]"))
    at = data["at"]
    data["at"] = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return AuditEntry(**data)
