"""Background ingestion: take jobs from the queue, ingest their files, record each file's result.

A worker holds a job under a lease that it renews while it works; a worker that dies lets the lease
run out and another worker (or this one after a restart) takes the job up again. The server runs one
worker thread for the embedded default; ``assistant worker`` runs one in a process of its own.
Writes from one worker never interleave: it ingests one job at a time; workers of other processes
never write one document at the same time either (the ingestor's document locks).

On shared storage the ingestor leaves retired chunks in the indexes for a grace period; the worker
sweeps them (``IndexJanitor.sweep_leftovers``) between jobs, at most every ``SWEEP_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

from assistant.domain import DocumentMeta
from assistant.storage.interfaces import Job, JobQueue, StagedFile
from assistant.telemetry import INGEST_CHUNKS, INGEST_FILES, INGEST_JOBS, Tally, Telemetry
from ingest.job import Ingestor, IngestResult

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
SWEEP_SECONDS = 30.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class IngestWorker:
    def __init__(
        self,
        ingestor: Ingestor,
        queue: JobQueue,
        *,
        name: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        poll_seconds: float = 1.0,
        telemetry: Telemetry | None = None,
    ):
        self.telemetry = telemetry or Tally()  # files, chunks and jobs done (assistant_ingest_*)
        self.ingestor = ingestor
        self.queue = queue
        self.name = name or worker_name()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._swept_at = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="ingest-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> bool:
        """Stop after the job in hand; False if it was still being written after ``timeout`` seconds."""
        self._stopping.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the queue itself failed (database gone): wait and try again
                log.exception("ingestion worker %s could not take a job", self.name)
                worked = False
            if not worked:
                self._sweep_when_due()
                self.queue.wait_for_work(self.poll_seconds)

    def _sweep_when_due(self) -> None:
        """Purge chunks retired longer than the grace period ago (shared storage only)."""
        if not self.ingestor.retire_grace_seconds or time.monotonic() - self._swept_at < SWEEP_SECONDS:
            return
        self._swept_at = time.monotonic()
        try:
            self.ingestor.janitor.sweep_leftovers()
        except Exception:
            log.exception("worker %s could not purge retired chunks", self.name)

    def run_once(self) -> bool:
        """Take one job and run it to the end; False when there was none."""
        job = self.queue.claim(self.name, lease_seconds=self.lease_seconds)
        if job is None:
            return False
        renewing = _LeaseKeeper(self.queue, job.id, self.name, self.lease_seconds)
        renewing.start()
        try:
            self._process(job)
        except Exception as exc:  # one bad job never stops the worker
            log.exception("ingestion job %s failed", job.id)
            self.queue.finish(job.id, self.name, status="failed", error=f"{type(exc).__name__}: {exc}")
            self.telemetry.count(INGEST_JOBS, status="failed")
        finally:
            renewing.stop()
        remove_staged(job.staged)
        return True

    def _process(self, job: Job) -> None:
        files = list(job.staged)
        meta = job.meta or DocumentMeta()
        metas = [meta] if len(files) == 1 else [meta.shared()] * len(files)
        results: list[dict] = [{"source": f.source, "status": "running"} for f in files]
        self.queue.progress(job.id, self.name, done=0, files=results)
        done = 0

        def record(result: IngestResult) -> None:
            nonlocal done
            results[done] = {
                "source": result.source, "status": result.status, "doc_id": result.doc_id,
                "chunks": result.chunks, "error": result.error, "warnings": result.warnings,
            }
            done += 1
            self.queue.progress(job.id, self.name, done=done, files=results)
            self.telemetry.count(INGEST_FILES, status=result.status)
            if result.status in ("added", "replaced"):
                self.telemetry.count(INGEST_CHUNKS, result.chunks)

        self.ingestor.ingest_files(
            [Path(f.path) for f in files], job.kb, metas, sources=[f.source for f in files], on_result=record,
            by=job.submitted_by,
        )
        failed = sum(r["status"] == "failed" for r in results)
        self.queue.finish(
            job.id, self.name, status="done", error=f"{failed} of {len(files)} files failed" if failed else None
        )
        self.telemetry.count(INGEST_JOBS, status="done")


class _LeaseKeeper:
    """Renews a job's lease in the background while the worker is busy with it."""

    def __init__(self, queue: JobQueue, job_id: str, worker: str, lease_seconds: float):
        self._queue, self._job_id, self._worker, self._lease = queue, job_id, worker, lease_seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._done.wait(self._lease / 3):
            try:
                if not self._queue.renew(self._job_id, self._worker, lease_seconds=self._lease):
                    log.warning("job %s is no longer held by %s", self._job_id, self._worker)
                    return
            except Exception:
                log.exception("could not renew the lease of job %s", self._job_id)


def remove_staged(files: tuple[StagedFile, ...] | list[StagedFile]) -> None:
    """Delete a finished job's private copies (each file sits in a folder of its own under the job's)."""
    for f in files:
        folder = Path(f.path).parent
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # the job's folder, once its last file is gone
        except OSError:
            pass
