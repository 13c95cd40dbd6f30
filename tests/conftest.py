"""Shared fixtures: a demo knowledge base built once per test session in its own data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.services import Services, make_ingestor

REPO = Path(__file__).resolve().parents[1]
DEMO_KB = REPO / "data" / "kb"
DEMO_EVAL = REPO / "data" / "eval" / "demo"


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def demo_services(demo_settings):
    """Services over a data directory holding the whole demo knowledge base (real models)."""
    from ingest.demo import load_demo

    services = Services(demo_settings)
    services.lock.acquire()
    results = load_demo(make_ingestor(services))
    assert [r.error for r in results if r.status == "failed"] == []
    yield services
    services.close()


@pytest.fixture(scope="session")
def demo_corpus() -> dict[str, str]:
    """Full plain text of every demo document, by document id."""
    lines = (DEMO_EVAL / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return {d["_id"]: d["text"] for d in map(json.loads, filter(None, lines))}


@pytest.fixture
def fresh_services(tmp_path):
    """An empty data directory of its own, with one knowledge base called ``kb1``."""
    services = Services(Settings(data_dir=tmp_path / "data"))
    services.lock.acquire()
    services.catalog.create_kb("kb1")
    yield services
    services.close()
