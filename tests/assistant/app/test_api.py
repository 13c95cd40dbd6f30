"""The HTTP API: /v1/ask returns the Answer as JSON; /healthz; OpenAPI docs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from tests.conftest import as_admin, make_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("api-data"))
    app = create_app(settings, load_demo=True)
    with TestClient(app) as client:  # runs the lifespan: lock, first admin, demo load, model warm-up
        yield as_admin(client, settings)


def test_healthz_reports_the_loaded_demo(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["chunks"] > 100


def test_ask_returns_a_cited_answer(client):
    body = client.post("/v1/ask", json={"question": "电子发票怎么开？"}).json()
    assert body["refused"] is False
    assert "e-invoice" in [c["doc_id"] for c in body["citations"]]
    assert set(body["citations"][0]) >= {"doc_id", "title", "section", "page", "quote"}
    assert "stages" in body["trace"]


def test_ask_refuses_what_the_knowledge_base_does_not_cover(client):
    body = client.post("/v1/ask", json={"question": "你们公司的股票代码是多少"}).json()
    assert body["refused"] is True and body["citations"] == []


def test_unknown_kb_is_404_and_empty_question_is_422(client):
    assert client.post("/v1/ask", json={"question": "退款", "kb": "nope"}).status_code == 404
    assert client.post("/v1/ask", json={"question": ""}).status_code == 422


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]
