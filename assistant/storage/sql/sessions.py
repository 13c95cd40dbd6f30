"""Sessions: one row per conversation of a principal, kept up to date as its questions are recorded,
so the console's live board pages through thousands of them without grouping the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from assistant.domain import AuditEntry, Principal, Session, SessionQuery
from assistant.storage.sql.schema import sessions


class SqlSessions:
    def __init__(self, engine: Engine):
        self.engine = engine

    def record(self, session_id: str, principal: Principal, entry: AuditEntry) -> None:
        """Count one more question in its session (creating the session with its first)."""
        refused = 1 if entry.refused else 0
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(sessions).where(sessions.c.id == session_id).values(
                    last_at=entry.at, turns=sessions.c.turns + 1, refused=sessions.c.refused + refused,
                    last_question=entry.question[:500], kbs=json.dumps(entry.kbs, ensure_ascii=False),
                )
            ).rowcount
            if changed:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(sessions).values(
                        id=session_id, principal_id=principal.id, principal_name=principal.name, role=principal.role,
                        departments=json.dumps(principal.departments, ensure_ascii=False), channel=entry.channel,
                        platform=principal.platform, chat_id=principal.chat_id, user_id=principal.user_id,
                        kbs=json.dumps(entry.kbs, ensure_ascii=False), started_at=entry.at, last_at=entry.at,
                        turns=1, refused=refused, last_question=entry.question[:500],
                    ))
            except IntegrityError:  # another process created it first: count this one on top
                conn.execute(update(sessions).where(sessions.c.id == session_id).values(
                    last_at=entry.at, turns=sessions.c.turns + 1, refused=sessions.c.refused + refused))

    def query(self, query: SessionQuery) -> list[Session]:
        """Sessions matching every filter, most recently active first."""
        stmt = select(sessions).order_by(sessions.c.last_at.desc(), sessions.c.id.desc())
        stmt = stmt.limit(max(1, min(query.limit, 500)))
        if query.platform:
            stmt = stmt.where(sessions.c.platform == query.platform)
        if query.chat:
            stmt = stmt.where(sessions.c.chat_id == query.chat)
        if query.channel:
            stmt = stmt.where(sessions.c.channel == query.channel)
        if query.department:
            stmt = stmt.where(sessions.c.departments.like(f"%{json.dumps(query.department, ensure_ascii=False)}%"))
        if query.user:
            pattern = f"%{query.user}%"
            stmt = stmt.where(or_(sessions.c.principal_id == query.user, sessions.c.principal_name.like(pattern),
                                  sessions.c.user_id.like(pattern)))
        if query.refused is not None:
            stmt = stmt.where(sessions.c.refused > 0 if query.refused else sessions.c.refused == 0)
        if query.since is not None:
            stmt = stmt.where(sessions.c.last_at >= query.since)
        if query.before is not None:
            stmt = stmt.where(sessions.c.last_at < query.before)
        with self.engine.connect() as conn:
            return [_session(r) for r in conn.execute(stmt).mappings()]

    def get(self, session_id: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id == session_id)).mappings().first()
        return _session(row) if row else None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _session(row) -> Session:
    data = dict(row)
    data["departments"] = json.loads(data["departments"] or "[]")
    data["kbs"] = json.loads(data["kbs"] or "[]")
    data["started_at"], data["last_at"] = _aware(data["started_at"]), _aware(data["last_at"])
    return Session(**data)
