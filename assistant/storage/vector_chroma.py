"""Vector index in Chroma, one collection per knowledge base: embedded (``PersistentClient`` in the
data directory) or a Chroma server (``HttpClient``, shared by replicas). Same code for both.

We always pass our own embeddings (Chroma's default embedding function downloads a model), use
cosine space, and turn telemetry off. One collection per KB keeps queries fast: Chroma's metadata
filters slow down with collection size whatever they match.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

log = logging.getLogger(__name__)

ADD_BATCH = 1000


def collection_name(kb: str) -> str:
    return f"kb-{kb}"


def chroma_client(*, path: Path | None = None, url: str | None = None):
    """A Chroma client: a server at ``url`` if given, else the embedded store at ``path``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if url:
        parsed = urlsplit(url)
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    if path is None:
        raise ValueError("a Chroma client needs a path (embedded) or a URL (server)")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class ChromaVectorIndex:
    """See ``VectorIndex`` for the contract."""

    def __init__(self, client):
        self._client = client
        self._collections: dict[str, object] = {}

    def _collection(self, kb: str, *, create: bool):
        if kb in self._collections:
            return self._collections[kb]
        name = collection_name(kb)
        if create:
            col = self._client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        else:
            try:
                col = self._client.get_collection(name, embedding_function=None)
            except Exception:  # chromadb raises NotFoundError / ValueError across versions
                return None
        self._collections[kb] = col
        return col

    def add(self, kb: str, ids: Sequence[str], vectors: np.ndarray, doc_ids: Sequence[str]) -> None:
        if not len(ids):
            return
        col = self._collection(kb, create=True)
        for i in range(0, len(ids), ADD_BATCH):
            col.upsert(
                ids=list(ids[i : i + ADD_BATCH]),
                embeddings=np.asarray(vectors[i : i + ADD_BATCH], dtype=np.float32),
                metadatas=[{"doc_id": d} for d in doc_ids[i : i + ADD_BATCH]],
            )

    def delete(self, kb: str, ids: Sequence[str]) -> None:
        col = self._collection(kb, create=False)
        if col is not None and ids:
            col.delete(ids=list(ids))

    def delete_kb(self, kb: str) -> None:
        self._collections.pop(kb, None)
        try:
            self._client.delete_collection(collection_name(kb))
        except Exception:
            log.debug("no vector collection for kb %s", kb)

    def search(self, vector: np.ndarray, kb_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, cosine similarity) across the given knowledge bases."""
        found: list[tuple[str, float]] = []
        for kb in kb_ids:
            col = self._collection(kb, create=False)
            if col is None:
                continue
            n = min(k, col.count())
            if n == 0:
                continue
            result = _query_with_retry(col, vector, n)
            found.extend(
                (cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])
            )
        found.sort(key=lambda pair: pair[1], reverse=True)
        return found[:k]

    def kbs(self) -> list[str]:
        names = [c if isinstance(c, str) else c.name for c in self._client.list_collections()]
        return [n.removeprefix("kb-") for n in names if n.startswith("kb-")]

    def ids(self, kb: str) -> list[str]:
        col = self._collection(kb, create=False)
        return list(col.get(include=[])["ids"]) if col is not None else []

    def count(self, kb: str) -> int:
        col = self._collection(kb, create=False)
        return col.count() if col is not None else 0


def _query_with_retry(col, vector: np.ndarray, n: int, attempts: int = 3):
    # Chroma occasionally reports "Error finding id" while deletes are in flight; a retry reads clean.
    for attempt in range(attempts):
        try:
            return col.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=n,
                include=["distances"],
            )
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
