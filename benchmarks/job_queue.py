"""The ingestion job queue on PostgreSQL (``assistant/storage/sql/jobs.py``): enqueue-to-start latency
and jobs per second with one and two worker processes.

Each worker is a process of its own running the real ``IngestWorker`` loop (claim with a lease, the
lease keeper thread, progress, finish) over ``SqlJobQueue`` on a database made for the run and
dropped after, with an ingestor that does nothing: what is measured is the queue, not ingestion.

- throughput: ``--jobs`` jobs are queued, then the workers drain them; jobs/s from the first claim
  to the last finish.
- latency: idle workers (polling every ``--poll`` seconds, as ``assistant worker`` does: 1 s), jobs
  queued one at a time at random moments; the time from a job's submit to its claim.

    .venv/bin/python benchmarks/job_queue.py [--jobs 1000] [--latency-jobs 60] [--poll 1.0]

The last line: ``jobs_per_s_1w=N jobs_per_s_2w=N start_p50_ms=N start_p95_ms=N``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timezone
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.domain import DocumentMeta  # noqa: E402
from assistant.storage.interfaces import StagedFile  # noqa: E402
from assistant.storage.sql.engine import make_engine, migrate, temporary_database  # noqa: E402
from assistant.storage.sql.jobs import SqlJobQueue  # noqa: E402
from assistant.storage.sql.schema import jobs as jobs_table  # noqa: E402

POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class NoIngest:
    """Stands in for the ingestor: every file is 'unchanged' at once."""

    retire_grace_seconds = 0.0

    def ingest_files(self, paths, kb, metas, *, sources, on_result, by=""):
        from ingest.job import IngestResult

        for source in sources:
            on_result(IngestResult(source, "unchanged"))


def run_worker(url: str, poll: float) -> None:
    """A worker process: prints one JSON line per claimed job (its id and the claim time)."""
    from ingest.worker import IngestWorker

    queue = SqlJobQueue(make_engine(url))
    claim = queue.claim
    lock = threading.Lock()

    def claim_and_say(worker, *, lease_seconds):
        job = claim(worker, lease_seconds=lease_seconds)
        if job is not None:
            with lock:
                print(json.dumps({"id": job.id, "t": time.time()}), flush=True)
        return job

    queue.claim = claim_and_say
    print(json.dumps({"ready": True}), flush=True)
    IngestWorker(NoIngest(), queue, poll_seconds=poll).run_forever()


class Workers:
    def __init__(self, url: str, count: int, poll: float):
        self.claims: dict[str, float] = {}
        self._processes = [
            subprocess.Popen([sys.executable, __file__, "--worker", url, "--poll", str(poll)], stdout=subprocess.PIPE,
                             text=True)
            for _ in range(count)
        ]
        self._readers = [threading.Thread(target=self._read, args=(p,), daemon=True) for p in self._processes]
        self._ready = threading.Semaphore(0)
        for reader in self._readers:
            reader.start()
        for _ in self._processes:
            self._ready.acquire(timeout=60)

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            record = json.loads(line)
            if record.get("ready"):
                self._ready.release()
            else:
                self.claims[record["id"]] = record["t"]

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(10)


def staged(folder: Path) -> list[StagedFile]:
    return [StagedFile(str(folder / "x" / "0" / "faq.md"), "faq.md")]


def throughput(url: str, workers: int, jobs: int, folder: Path) -> tuple[float, float]:
    queue = SqlJobQueue(make_engine(url))
    started = time.perf_counter()
    [queue.submit("kb1", staged(folder), DocumentMeta()).id for _ in range(jobs)]
    submit_rate = jobs / (time.perf_counter() - started)
    pool = Workers(url, workers, poll=0.05)
    try:
        while queue.status_counts()["done"] < jobs:
            time.sleep(0.05)
        with queue.engine.connect() as conn:
            last = conn.execute(select(func.max(jobs_table.c.updated_at))).scalar_one()
        finished = (last if last.tzinfo else last.replace(tzinfo=timezone.utc)).timestamp()
        first = min(pool.claims.values())
    finally:
        pool.stop()
        queue.engine.dispose()
    return jobs / (finished - first), submit_rate


def latency(url: str, workers: int, count: int, poll: float, folder: Path) -> list[float]:
    queue = SqlJobQueue(make_engine(url))
    pool = Workers(url, workers, poll=poll)
    submitted: dict[str, float] = {}
    rng = random.Random(7)
    try:
        time.sleep(poll * 2)  # the workers are idle, waiting
        for _ in range(count):
            time.sleep(rng.uniform(0.05, poll * 1.5))
            t = time.time()
            submitted[queue.submit("kb1", staged(folder), DocumentMeta()).id] = t
        deadline = time.monotonic() + 30
        while len([i for i in submitted if i in pool.claims]) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pool.stop()
        queue.engine.dispose()
    return [(pool.claims[i] - t) * 1000 for i, t in submitted.items() if i in pool.claims]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-jobs", type=int, default=60)
    parser.add_argument("--poll", type=float, default=1.0, help="idle workers look for work this often (s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.poll)
        return

    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            with temporary_database(POSTGRES_URL, "jobsbench") as url:
                migrate(make_engine(url))
                rates[workers], submits = throughput(url, workers, args.jobs, Path(folder))
            print(f"{workers} worker(s): {rates[workers]:.0f} jobs/s drained ({args.jobs} no-op jobs); "
                  f"submit {submits:.0f} jobs/s", flush=True)
        waits: dict[float, list[float]] = {}
        for poll in sorted({args.poll, 0.1}, reverse=True):
            with temporary_database(POSTGRES_URL, "jobsbench") as url:
                migrate(make_engine(url))
                waits[poll] = latency(url, 2, args.latency_jobs, poll, Path(folder))
            w = waits[poll]
            print(f"2 idle workers polling every {poll:g} s: submit-to-start p50 {statistics.median(w):.0f} ms, "
                  f"p95 {percentile(w, 0.95):.0f} ms, max {max(w):.0f} ms ({len(w)} jobs)", flush=True)
    default = waits[args.poll]
    print(f"jobs_per_s_1w={rates[1]:.0f} jobs_per_s_2w={rates[2]:.0f} start_p50_ms={statistics.median(default):.0f} "
          f"start_p95_ms={percentile(default, 0.95):.0f}")


if __name__ == "__main__":
    main()
