"""The ``JobQueue`` contract, on every SQL backend: durable jobs, one holder at a time, retried when a
worker dies, given up after too many attempts."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.domain import DocumentMeta
from assistant.storage.interfaces import StagedFile
from assistant.storage.sql.jobs import SqlJobQueue


@pytest.fixture
def queue(engine) -> SqlJobQueue:
    return SqlJobQueue(engine, max_attempts=2)


def submit(queue: SqlJobQueue, n: int = 1, **meta):
    files = [StagedFile(f"/uploads/j/{i}/f{i}.md", f"f{i}.md") for i in range(n)]
    return queue.submit("kb1", files, DocumentMeta(**meta))


def test_a_submitted_job_is_queued_with_its_files_and_metadata(queue):
    job = submit(queue, 2, owner="财务部", tags="发票,退款")
    again = queue.get(job.id)
    assert again.status == "queued" and again.total == 2 and again.done == 0
    assert [f["source"] for f in again.files] == ["f0.md", "f1.md"]
    assert again.staged == (StagedFile("/uploads/j/0/f0.md", "f0.md"), StagedFile("/uploads/j/1/f1.md", "f1.md"))
    assert again.meta.owner == "财务部" and again.meta.tags == ["发票", "退款"]
    assert job.id in queue.active_ids()
    assert "staged" not in again.public() and again.public()["status"] == "queued"
    assert queue.get("nope") is None


def test_many_workers_racing_claim_each_job_exactly_once(queue):
    ids = {submit(queue).id for _ in range(6)}
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := queue.claim(name, lease_seconds=60)) is not None:
            with lock:
                claimed.append((job.id, name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(j for j, _ in claimed) == sorted(ids), "every job once, none twice"
    assert queue.claim("late", lease_seconds=60) is None


def test_a_job_whose_worker_stopped_renewing_is_taken_up_by_another(queue):
    job = submit(queue)
    first = queue.claim("w1", lease_seconds=0.2)
    assert first.id == job.id and first.attempts == 1 and first.worker == "w1"
    assert queue.claim("w2", lease_seconds=60) is None, "held while the lease runs"
    time.sleep(0.3)
    second = queue.claim("w2", lease_seconds=60)
    assert second.id == job.id and second.attempts == 2 and second.worker == "w2"
    assert queue.renew(job.id, "w1", lease_seconds=60) is False, "the first worker lost it"
    queue.progress(job.id, "w1", done=1, files=[{"source": "f0.md", "status": "added"}])
    queue.finish(job.id, "w1", status="failed", error="late")
    assert queue.get(job.id).status == "running" and queue.get(job.id).done == 0, "a former holder changes nothing"
    queue.progress(job.id, "w2", done=1, files=[{"source": "f0.md", "status": "added", "chunks": 3}])
    queue.finish(job.id, "w2", status="done")
    done = queue.get(job.id)
    assert done.status == "done" and done.done == 1 and done.files[0]["chunks"] == 3
    assert job.id not in queue.active_ids()


def test_a_job_that_keeps_killing_its_workers_is_given_up(queue):
    job = submit(queue)
    for worker in ("w1", "w2"):
        assert queue.claim(worker, lease_seconds=0.05).id == job.id
        time.sleep(0.1)
    assert queue.claim("w3", lease_seconds=60) is None
    failed = queue.get(job.id)
    assert failed.status == "failed" and "gave up after 2 attempts" in failed.error


def test_renewing_keeps_a_job_from_other_workers(queue):
    job = submit(queue)
    queue.claim("w1", lease_seconds=0.3)
    for _ in range(3):
        time.sleep(0.15)
        assert queue.renew(job.id, "w1", lease_seconds=0.3)
    assert queue.claim("w2", lease_seconds=60) is None


def test_jobs_are_claimed_oldest_first(queue):
    first, second = submit(queue), submit(queue)
    assert queue.claim("w", lease_seconds=60).id == first.id
    assert queue.claim("w", lease_seconds=60).id == second.id


def test_waiting_for_work_wakes_on_a_submit(queue):
    woke = threading.Event()

    def wait() -> None:
        queue.wait_for_work(10)
        woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    submit(queue)
    assert woke.wait(2), "a local submit wakes the worker at once"
    waiter.join()


def test_jobs_are_counted_by_status(queue):
    assert queue.status_counts() == {"queued": 0, "running": 0, "done": 0, "failed": 0}
    first, _ = submit(queue), submit(queue)
    assert queue.claim("w1", lease_seconds=30).id == first.id
    queue.finish(first.id, "w1", status="done")
    assert queue.status_counts() == {"queued": 1, "running": 0, "done": 1, "failed": 0}


def test_a_job_carries_who_submitted_it(queue):
    files = [StagedFile("/uploads/j/0/a.md", "a.md")]
    job = queue.submit("kb1", files, DocumentMeta(), submitted_by="user:wang")
    assert queue.get(job.id).submitted_by == "user:wang"
    assert submit(queue).submitted_by == ""
