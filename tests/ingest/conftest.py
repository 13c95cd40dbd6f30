"""An ingestor over a fresh data directory with a fast, deterministic embedder that counts its calls."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ingest.job import Ingestor


class CountingEmbedder:
    """Hash vectors (no model to load); ``calls`` counts the texts it was asked to embed."""

    name = "counting-hash-8"
    dim = 8

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[: self.dim], dtype=np.uint8) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32) + 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def make_ingestor(fresh_services, embedder):
    """``make_ingestor(**limits) -> Ingestor`` over ``fresh_services`` (knowledge base ``kb1``)."""

    def make(**options) -> Ingestor:
        s = fresh_services
        return Ingestor(s.catalog, s.keyword, s.vector, embedder, s.tokenizer, s.gate, **options)

    return make
