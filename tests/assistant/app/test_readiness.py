"""Warm start: the port answers /healthz at once, /readyz is 503 naming what is still missing until
the models have loaded, then 200 with the storage checks and the breakers."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from assistant.app.api import create_app
from assistant.app.readiness import WarmUp
from tests.conftest import as_admin, make_settings


def test_readiness_names_the_step_still_running_then_reports_the_storage(fresh_services):
    release = threading.Event()
    warm_up = WarmUp(fresh_services, steps=[("load the segmenter", release.wait)])
    warm_up.start()
    waiting = warm_up.report()
    assert not waiting.ready
    assert waiting.missing == ["models: still warming up (load the segmenter)"]
    release.set()
    assert warm_up.wait(10)
    ready = warm_up.report()
    assert ready.ready and ready.missing == []
    assert ready.checks["models"] == "loaded" and ready.checks["database"] == "ok"
    assert ready.checks["keyword_index"] == 0 and ready.checks["vector_index"] == 0  # the empty kb1


def test_a_failed_warm_up_step_keeps_the_server_unready_and_says_which(fresh_services):
    def broken() -> None:
        raise RuntimeError("model file truncated")

    warm_up = WarmUp(fresh_services, steps=[("load the cross-encoder", broken)])
    warm_up.run()
    report = warm_up.report()
    assert not report.ready
    assert report.missing == ["models: warm-up failed at load the cross-encoder: RuntimeError: model file truncated"]


def test_a_warm_started_server_answers_health_first_and_questions_once_ready(tmp_path):
    settings = make_settings(tmp_path / "data")
    app = create_app(settings, load_demo=True, warm_start=True)
    with TestClient(app) as client:
        as_admin(client, settings)
        assert client.get("/healthz").status_code == 200  # at once, whatever the models are doing
        first = client.get("/readyz")
        if first.status_code == 503:  # warming (the demo load alone takes seconds here)
            assert first.json()["checks"]["models"] == "loading"
        deadline = time.monotonic() + 300
        while (ready := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, ready.json()
            time.sleep(0.2)
        body = ready.json()
        assert body["status"] == "ready" and body["checks"]["keyword_index"] > 100
        answer = client.post("/v1/ask", json={"question": "电子发票怎么开？"}).json()
        assert answer["refused"] is False and answer["citations"]
