"""Shared fixtures: a demo knowledge base built once per test session in its own data directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.app.container import Services
from assistant.app.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEMO_KB = REPO / "data" / "kb"
DEMO_EVAL = REPO / "data" / "eval" / "demo"


def make_settings(data_dir: Path, **groups) -> Settings:
    """Settings over an embedded data directory of its own, with some groups changed."""
    return Settings(storage={"data_dir": data_dir}).with_updates(**groups)


@contextmanager
def served_app(data_dir: Path) -> Iterator[tuple[object, str, str]]:
    """The whole app over ``data_dir`` on a real socket (uvicorn on 127.0.0.1; the lifespan is the
    test client's): ``(client signed in as the administrator, base URL, the administrator's API key)``."""
    from fastapi.testclient import TestClient

    from assistant.app.api import create_app
    from tests.connectors.conftest import Server

    settings = make_settings(data_dir)
    with TestClient(create_app(settings)) as client:
        key = (settings.storage.data_dir / "cli.key").read_text().strip()
        client.headers["Authorization"] = f"Bearer {key}"
        server = Server(client.app)
        try:
            yield client, server.base, key
        finally:
            server.close()


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def demo_services(demo_settings):
    """Services over a data directory holding the whole demo knowledge base (real models)."""
    from ingest.demo import load_demo

    with Services(demo_settings) as services:
        results = load_demo(services.ingestor())
        assert [r.error for r in results if r.status == "failed"] == []
        yield services


@pytest.fixture(scope="session")
def demo_corpus() -> dict[str, str]:
    """Full plain text of every demo document, by document id."""
    lines = (DEMO_EVAL / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return {d["_id"]: d["text"] for d in map(json.loads, filter(None, lines))}


@pytest.fixture
def fresh_services(tmp_path):
    """An empty data directory of its own, with one knowledge base called ``kb1``."""
    with Services(make_settings(tmp_path / "data")) as services:
        services.catalog.create_kb("kb1")
        yield services


def as_admin(client, settings: Settings):
    """Send the local administrator's key (made by the server's first start) on every request."""
    key = (settings.storage.data_dir / "cli.key").read_text().strip()
    client.headers["Authorization"] = f"Bearer {key}"
    return client
