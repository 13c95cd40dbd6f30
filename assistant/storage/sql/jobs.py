"""Ingestion jobs in SQL: a queue any worker process can claim from, with leases.

A worker claims the oldest queued job (or a running one whose lease ran out: its worker died) in one
guarded UPDATE, so two workers never hold the same job; it renews the lease while it works. On
PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``; SQLite serialises writers.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from assistant.domain import DocumentMeta
from assistant.storage.interfaces import Job, JobStatus, StagedFile
from assistant.storage.sql.schema import jobs

MAX_ATTEMPTS = 3


class SqlJobQueue:
    """See ``JobQueue`` for the contract."""

    def __init__(self, engine: Engine, *, max_attempts: int = MAX_ATTEMPTS):
        self.engine = engine
        self.max_attempts = max_attempts
        self._wake = threading.Event()

    def submit(self, kb: str, files: Sequence[StagedFile], meta: DocumentMeta, *, job_id: str | None = None,
               submitted_by: str = "") -> Job:
        job_id = job_id or uuid.uuid4().hex
        now = _now()
        payload = {"files": [{"path": f.path, "source": f.source} for f in files], "meta": meta.model_dump(),
                   "submitted_by": submitted_by}  # the document history names who uploaded
        with self.engine.begin() as conn:
            conn.execute(
                insert(jobs).values(
                    id=job_id, kb=kb, status="queued", total=len(files), done=0,
                    files=_dumps([{"source": f.source, "status": "queued"} for f in files]),
                    created_at=now, updated_at=now, payload=_dumps(payload), attempts=0,
                )
            )
        self._wake.set()
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None:
        while True:
            now = _now()
            claimable = or_(
                jobs.c.status == "queued",
                and_(jobs.c.status == "running", jobs.c.lease_until < now),
            )
            with self.engine.begin() as conn:
                query = select(jobs.c.id, jobs.c.attempts).where(claimable, jobs.c.payload.is_not(None))
                query = query.order_by(jobs.c.created_at).limit(1)
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = conn.execute(query).first()
                if row is None:
                    return None
                if row.attempts >= self.max_attempts:  # every worker that took it died: stop retrying
                    conn.execute(
                        update(jobs).where(jobs.c.id == row.id, claimable).values(
                            status="failed", worker=None, lease_until=None, updated_at=now,
                            error=f"gave up after {row.attempts} attempts: each worker stopped before finishing",
                        )
                    )
                    continue
                taken = conn.execute(
                    update(jobs).where(jobs.c.id == row.id, claimable).values(
                        status="running", worker=worker, lease_until=now + timedelta(seconds=lease_seconds),
                        attempts=jobs.c.attempts + 1, updated_at=now,
                    )
                ).rowcount
            if taken == 1:
                return self.get(row.id)

    def renew(self, job_id: str, worker: str, *, lease_seconds: float) -> bool:
        now = _now()
        with self.engine.begin() as conn:
            count = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")
                .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            ).rowcount
        return count == 1

    def progress(self, job_id: str, worker: str, *, done: int, files: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")
                .values(done=done, files=_dumps(files), updated_at=_now())
            )

    def finish(self, job_id: str, worker: str, *, status: JobStatus, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")
                .values(status=status, error=error, lease_until=None, updated_at=_now())
            )

    def wait_for_work(self, timeout: float) -> None:
        self._wake.wait(timeout)
        self._wake.clear()

    def active_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(jobs.c.id).where(jobs.c.status.in_(["queued", "running"]))).scalars())

    def status_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        return {"queued": 0, "running": 0, "done": 0, "failed": 0, **{status: int(n) for status, n in rows}}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _job(row) -> Job:
    payload = json.loads(row["payload"]) if row["payload"] else {}
    meta = DocumentMeta.model_validate(payload["meta"]) if payload.get("meta") is not None else None
    return Job(
        id=row["id"], kb=row["kb"], status=row["status"], total=row["total"], done=row["done"],
        files=json.loads(row["files"]), error=row["error"], created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]), attempts=row["attempts"], worker=row["worker"],
        staged=tuple(StagedFile(f["path"], f["source"]) for f in payload.get("files", [])), meta=meta,
        submitted_by=payload.get("submitted_by") or "",
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
