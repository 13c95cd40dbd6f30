"""Ingestion's embedder: the same vectors as the questions' one, computed at a lower CPU priority."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from assistant.embed.background import BackgroundEmbedder
from assistant.embed.base import make_embedder

TEXTS = ["退款在仓库收到退货后3个工作日内原路退回。", "Refunds are paid within 3 business days.", "电子发票在确认收货后24小时内开具"]


@pytest.fixture(scope="module")
def embedders():
    return make_embedder("use"), BackgroundEmbedder(make_embedder("use", threads=1))


def test_same_vectors_as_the_question_embedder(embedders):
    plain, background = embedders
    np.testing.assert_allclose(background.embed_documents(TEXTS), plain.embed_documents(TEXTS), atol=1e-4)
    np.testing.assert_allclose(background.embed_query(TEXTS[0]), plain.embed_query(TEXTS[0]), atol=1e-4)
    assert (background.name, background.dim) == (plain.name, plain.dim)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
def test_documents_are_embedded_at_a_lower_priority_and_questions_are_not(embedders):
    _, background = embedders
    seen: dict[str, int] = {}

    def ingest() -> None:
        background.embed_documents(TEXTS)
        seen["ingest"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def ask() -> None:
        background.embed_query(TEXTS[0])
        seen["ask"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for target in (ingest, ask):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    assert seen["ingest"] > base, "the ingestion thread kept the questions' priority"
    assert seen["ask"] == base
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller of the test untouched


def test_the_ingestion_workers_model_session_loads_on_the_first_upload_not_at_start(tmp_path):
    """A server's start does not pay for the worker's second model session until something is ingested."""
    from assistant.app.container import Services
    from tests.conftest import make_settings

    with Services(make_settings(tmp_path / "data")) as services:
        embedder = services.background_embedder
        lazy = embedder.inner
        assert lazy._inner is None and (lazy.name, lazy.dim) == ("use-multilingual-v3", 512)
        vectors = embedder.embed_documents(TEXTS)
        assert lazy._inner is not None and vectors.shape == (3, 512)
        np.testing.assert_allclose(vectors, services.embedder.embed_documents(TEXTS), atol=1e-4)
