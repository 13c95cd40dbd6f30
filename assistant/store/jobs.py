"""Ingestion jobs: what an upload asked for, how far it got, and each file's result."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine

from assistant.store.catalog import metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kb", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, default=0),
    Column("files", Text, nullable=False, default="[]"),  # per-file results, JSON
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class JobStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[jobs])

    def create(self, kb: str, sources: list[str]) -> str:
        job_id = uuid.uuid4().hex
        now = datetime.now(timezone.utc)
        files = [{"source": s, "status": "queued"} for s in sources]
        with self.engine.begin() as conn:
            conn.execute(
                insert(jobs).values(
                    id=job_id, kb=kb, status="queued", total=len(sources), done=0,
                    files=json.dumps(files, ensure_ascii=False), created_at=now, updated_at=now,
                )
            )
        return job_id

    def get(self, job_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            return None
        data = dict(row)
        data["files"] = json.loads(data["files"])
        return data

    def update(self, job_id: str, **values) -> None:
        if "files" in values:
            values["files"] = json.dumps(values["files"], ensure_ascii=False)
        values["updated_at"] = datetime.now(timezone.utc)
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def interrupted(self) -> list[str]:
        """Jobs a previous process left queued or running (it died): they are marked failed."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(select(jobs.c.id).where(jobs.c.status.in_(["queued", "running"]))).scalars()
            )
