"""Background ingestion for uploads: one worker thread, so writes to the indexes never interleave."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.store.jobs import JobStore
from ingest.job import DocumentMeta, Ingestor

log = logging.getLogger(__name__)


@dataclass
class UploadedFile:
    path: Path  # a private copy in the data directory's upload area
    source: str  # the name the user uploaded it under


class IngestWorker:
    def __init__(self, ingestor: Ingestor, jobs: JobStore, *, max_pending: int = 100):
        self.ingestor = ingestor
        self.jobs = jobs
        self._queue: queue.Queue[tuple[str, str, list[UploadedFile], DocumentMeta] | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="ingest-worker", daemon=True)

    def start(self) -> None:
        for job_id in self.jobs.interrupted():
            self.jobs.update(job_id, status="failed", error="the server stopped before this job finished; upload again")
        self.ingestor.sweep_orphans()
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, kb: str, files: list[UploadedFile], meta: DocumentMeta | None = None) -> str:
        job_id = self.jobs.create(kb, [f.source for f in files])
        try:
            self._queue.put_nowait((job_id, kb, files, meta or DocumentMeta()))
        except queue.Full:
            self.jobs.update(job_id, status="failed", error="too many uploads waiting; try again shortly")
        return job_id

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id, kb, files, meta = item
            try:
                self._process(job_id, kb, files, meta)
            except Exception as exc:  # one bad job never stops the worker
                log.exception("ingestion job %s failed", job_id)
                self.jobs.update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                for f in files:
                    shutil.rmtree(f.path.parent, ignore_errors=True)

    def _process(self, job_id: str, kb: str, files: list[UploadedFile], meta: DocumentMeta) -> None:
        self.jobs.update(job_id, status="running")
        results: list[dict] = [{"source": f.source, "status": "running"} for f in files]
        self.jobs.update(job_id, files=results)
        single = meta
        shared = DocumentMeta(version=meta.version, effective_date=meta.effective_date, owner=meta.owner,
                              tags=meta.tags, url=meta.url)
        metas = [single] if len(files) == 1 else [shared] * len(files)
        done = 0

        def record(result) -> None:
            nonlocal done
            results[done] = {
                "source": result.source, "status": result.status, "doc_id": result.doc_id,
                "chunks": result.chunks, "error": result.error, "warnings": result.warnings,
            }
            done += 1
            self.jobs.update(job_id, files=results, done=done)

        self.ingestor.ingest_files([f.path for f in files], kb, metas, sources=[f.source for f in files], on_result=record)
        failed = sum(r["status"] == "failed" for r in results)
        self.jobs.update(
            job_id,
            status="done",
            error=f"{failed} of {len(files)} files failed" if failed else None,
        )
