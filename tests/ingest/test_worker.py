"""Ingestion jobs outlive the process that accepted them: a job whose worker was killed is taken up
again and finishes; uploaded copies are removed once their job ends, and only then."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from assistant.app.container import Services
from assistant.app.audit_trail import Actor
from assistant.app.auth import LOCAL
from assistant.app.knowledge import KnowledgeBases, Upload
from assistant.domain import DocumentMeta
from ingest.worker import IngestWorker
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
SOP = "# 调班规范\n## 一、调班规则\n客服调班须提前3个工作日在排班系统提交申请，经组长审批后生效。\n"

# Claims the one queued job with a short lease, says so, and hangs: then it is killed.
DOOMED_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from assistant.app.container import Services
    from assistant.app.settings import Settings

    services = Services(Settings(storage={"data_dir": Path(sys.argv[1])}))
    job = services.jobs.claim("doomed", lease_seconds=1.0)
    print("claimed", job.id, flush=True)
    time.sleep(600)
    """
)


def queue_upload(data_dir: Path, name: str = "rota.md") -> str:
    import io

    with Services(make_settings(data_dir)) as services:
        services.catalog.create_kb("support")
        job = KnowledgeBases(services).upload(
            Actor(LOCAL, "cli"), "support", [Upload(name, io.BytesIO(SOP.encode()))], DocumentMeta(owner="客服部"), max_bytes=1 << 20
        )
    return job.id


def test_a_job_whose_worker_was_killed_is_retried_and_finishes(tmp_path):
    data = tmp_path / "data"
    job_id = queue_upload(data)
    doomed = subprocess.Popen([sys.executable, "-c", DOOMED_WORKER, str(data)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert doomed.stdout.readline().split() == ["claimed", job_id], doomed.stderr.read()
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    with Services(make_settings(data)) as services:
        left = services.jobs.get(job_id)
        assert (left.status, left.worker) == ("running", "doomed"), "held by the dead worker until its lease runs out"
        worker = IngestWorker(services.ingestor(), services.jobs, lease_seconds=5)
        deadline = time.monotonic() + 30
        while not worker.run_once():  # nothing to take until the dead worker's lease expires
            assert time.monotonic() < deadline, "the expired job never became claimable"
            time.sleep(0.2)
        job = services.jobs.get(job_id)
        assert job.attempts == 2 and job.files[0]["status"] == "added" and job.error is None
        answer = services.default_pipeline.ask("客服调班要提前多久申请", kb_ids=["support"])
        assert "3个工作日" in answer.answer
        assert not services.upload_folder(job_id).exists(), "the copies go once the job is done"


def test_start_up_keeps_uploads_of_jobs_in_flight_and_drops_abandoned_ones(tmp_path):
    data = tmp_path / "data"
    job_id = queue_upload(data)
    abandoned = data / "uploads" / "0123abandoned"
    (abandoned / "0").mkdir(parents=True)
    (abandoned / "0" / "lost.md").write_text("x")
    old = time.time() - 7200
    os.utime(abandoned, (old, old))
    fresh = data / "uploads" / "just-arriving"
    (fresh / "0").mkdir(parents=True)
    with Services(make_settings(data)) as services:
        services.sweep()
        assert services.upload_folder(job_id).is_dir(), "a queued job's files are kept for its worker"
        assert not abandoned.exists(), "no job, and old: abandoned"
        assert fresh.exists(), "no job yet, but new: an upload still being written"


def test_assistant_worker_once_runs_the_queued_jobs(tmp_path):
    data = tmp_path / "data"
    job_id = queue_upload(data)
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "assistant.app.cli", "worker", "--once"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Services(make_settings(data)) as services:
        assert services.jobs.get(job_id).status == "done"
        assert [d.id for d, _ in services.catalog.list_documents("support")] == ["rota"]
        assert services.catalog.get_document("rota").owner == "客服部"


def test_stop_says_whether_the_job_in_hand_was_still_being_written(tmp_path):
    """A server that ends while its worker still writes must not record an orderly close."""
    data = tmp_path / "data"
    job_id = queue_upload(data)
    with Services(make_settings(data)) as services:
        ingestor = services.ingestor()
        writing, may_finish = threading.Event(), threading.Event()
        ingest_files = ingestor.ingest_files

        def slow_ingest_files(*args, **kwargs):  # the job in hand takes as long as the test says
            writing.set()
            may_finish.wait(30)
            return ingest_files(*args, **kwargs)

        ingestor.ingest_files = slow_ingest_files
        worker = IngestWorker(ingestor, services.jobs, lease_seconds=30, poll_seconds=0.1)
        worker.start()
        assert writing.wait(30)
        assert worker.stop(timeout=0.2) is False, "still writing"
        may_finish.set()
        assert worker.stop() is True
        assert services.jobs.get(job_id).status == "done", "the job in hand was finished, not cut off"
