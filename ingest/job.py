"""The ingestion job: load, chunk, embed, index, and switch the document over in one step.

Order matters for readers and for crashes:
1. new chunks are written to the vector and keyword indexes (invisible: the catalog does not list them);
2. the catalog switches the document to the new chunk set in one transaction (the visible step);
3. chunks that are no longer live are purged from both indexes.
A crash before 2 leaves the old version live and some invisible orphans; a crash after 2 leaves the
new version live and some invisible leftovers. Either way no reader sees half a document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.domain import Chunk, Document
from assistant.errors import AssistantError, IngestError
from assistant.index.keyword import KeywordIndex
from assistant.index.vector import VectorIndex
from assistant.index.visibility import VisibilityGate
from assistant.embed.base import Embedder
from assistant.store.catalog import Catalog
from ingest.chunking import chunk_document
from ingest.loaders.base import LoadedDocument, load_file

log = logging.getLogger(__name__)

Status = Literal["added", "replaced", "unchanged", "failed"]


@dataclass
class DocumentMeta:
    """What a knowledge manager can say about a document beyond its content."""

    id: str | None = None
    title: str | None = None
    version: str | None = None
    effective_date: str | None = None
    owner: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None


@dataclass
class IngestResult:
    source: str
    status: Status
    doc_id: str | None = None
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """A document id from a file name: keeps letters (Chinese too), digits, '-', '_' and '.'."""
    stem = unicodedata.normalize("NFKC", Path(name).stem).strip().lower()
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.")
    return stem or hashlib.sha1(name.encode()).hexdigest()[:12]


def embedding_text(chunk: Chunk) -> str:
    """What the vector index embeds: an FAQ by its question; a passage with its heading path."""
    if chunk.kind == "faq" and chunk.question:
        return chunk.question
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


class Ingestor:
    def __init__(
        self,
        catalog: Catalog,
        keyword: KeywordIndex,
        vector: VectorIndex,
        embedder: Embedder,
        *,
        chunk_size: int = 400,
        chunk_overlap: int = 60,
        max_bytes: int = 50 * 1024 * 1024,
        gate: VisibilityGate | None = None,
    ):
        self.catalog = catalog
        self.keyword = keyword
        self.vector = vector
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.max_bytes = max_bytes
        self.gate = gate or VisibilityGate()

    def ingest_file(
        self, path: Path, kb: str, meta: DocumentMeta | None = None, *, source: str | None = None
    ) -> IngestResult:
        """Ingest one file; failures come back as a result, never half-written."""
        path = Path(path)
        source = source or path.name
        meta = meta or DocumentMeta()
        try:
            self.catalog.require_kb(kb)
            size = path.stat().st_size if path.exists() else 0
            if size > self.max_bytes:
                raise IngestError(
                    source, f"file is {size / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.0f} MB limit"
                )
            data_hash = hashlib.sha256(path.read_bytes() if path.exists() else b"").hexdigest()
            loaded = load_file(path)
        except AssistantError as exc:
            return IngestResult(source=source, status="failed", doc_id=meta.id, error=str(exc))
        return self.ingest_loaded(loaded, kb, meta, source=source, content_hash=data_hash)

    def ingest_loaded(
        self,
        loaded: LoadedDocument,
        kb: str,
        meta: DocumentMeta,
        *,
        source: str,
        content_hash: str,
    ) -> IngestResult:
        doc_id = meta.id or slug(source)
        settings_hash = hashlib.sha256(
            json.dumps(
                [content_hash, self.chunk_size, self.chunk_overlap, self.embedder.name, _meta_dict(meta)],
                ensure_ascii=False,
            ).encode()
        ).hexdigest()
        existing = self.catalog.get_document(doc_id)
        if existing and existing.kb == kb and existing.content_hash == settings_hash:
            return IngestResult(source=source, status="unchanged", doc_id=doc_id, chunks=len(self.catalog.chunk_ids(doc_id)))

        doc = Document(
            id=doc_id,
            kb=kb,
            title=meta.title or loaded.title,
            source=source,
            version=meta.version or loaded.version,
            effective_date=meta.effective_date or loaded.effective_date,
            owner=meta.owner,
            tags=meta.tags,
            url=meta.url,
            content_hash=settings_hash,
        )
        chunks = chunk_document(doc_id, kb, loaded, size=self.chunk_size, overlap=self.chunk_overlap)
        if not chunks:
            return IngestResult(source=source, status="failed", doc_id=doc_id, error=f"{source}: no text to index")
        live = set(self.catalog.chunk_ids(doc_id))
        fresh = [c for c in chunks if c.id not in live]
        try:
            if fresh:
                vectors = self.embedder.embed_documents([embedding_text(c) for c in fresh])
                self.vector.add(kb, [c.id for c in fresh], vectors, [c.doc_id for c in fresh])
                self.keyword.apply(add=fresh)
            with self.gate.switching():
                replacement = self.catalog.replace_document(doc, chunks)  # the visible switch
                self._purge(kb, replacement.removed_ids)
        except Exception as exc:
            self._discard(kb, [c.id for c in fresh])
            if isinstance(exc, AssistantError):
                return IngestResult(source=source, status="failed", doc_id=doc_id, error=str(exc))
            raise
        return IngestResult(
            source=source,
            status="replaced" if existing else "added",
            doc_id=doc_id,
            chunks=len(chunks),
            warnings=list(loaded.warnings),
        )

    def ingest_batch(
        self, items: list[tuple[LoadedDocument, DocumentMeta, str]], kb: str, *, embed_batch: int = 256
    ) -> list[IngestResult]:
        """Ingest many already-loaded documents with batched embedding and one index commit.

        Each item is (loaded document, metadata with an id, source name). Used for corpora of
        thousands of small documents (eval sets), where per-document commits would dominate.
        """
        self.catalog.require_kb(kb)
        plans: list[tuple[Document, list[Chunk]]] = []
        results: list[IngestResult] = []
        for loaded, meta, source in items:
            doc_id = meta.id or slug(source)
            chunks = chunk_document(doc_id, kb, loaded, size=self.chunk_size, overlap=self.chunk_overlap)
            if not chunks:
                results.append(IngestResult(source=source, status="failed", doc_id=doc_id, error="no text"))
                continue
            doc = Document(id=doc_id, kb=kb, title=meta.title or loaded.title, source=source,
                           version=meta.version or loaded.version, url=meta.url, tags=meta.tags)
            plans.append((doc, chunks))
        fresh = [c for _, chunks in plans for c in chunks]
        for i in range(0, len(fresh), embed_batch):
            part = fresh[i : i + embed_batch]
            vectors = self.embedder.embed_documents([embedding_text(c) for c in part])
            self.vector.add(kb, [c.id for c in part], vectors, [c.doc_id for c in part])
        self.keyword.apply(add=fresh)
        with self.gate.switching():
            removed: list[str] = []
            for doc, chunks in plans:
                replacement = self.catalog.replace_document(doc, chunks)
                removed.extend(replacement.removed_ids)
                results.append(IngestResult(source=doc.source, status="added", doc_id=doc.id, chunks=len(chunks)))
            self._purge(kb, removed)
        return results

    def delete_document(self, doc_id: str) -> bool:
        doc = self.catalog.get_document(doc_id)
        if doc is None:
            return False
        with self.gate.switching():
            removed = self.catalog.delete_document(doc_id)
            self._purge(doc.kb, removed)
        return True

    def delete_kb(self, kb: str) -> None:
        with self.gate.switching():
            self.catalog.delete_kb(kb)
            self.keyword.delete_kb(kb)
            self.vector.delete_kb(kb)

    def sweep_orphans(self) -> int:
        """Remove index entries the catalog does not list (left by a crash mid-ingestion)."""
        removed = 0
        with self.gate.switching():
            live_by_kb: dict[str, set[str]] = {}
            for kb in [k["name"] for k in self.catalog.list_kbs()]:
                live_by_kb[kb] = set(self.catalog.chunk_ids_of_kb(kb))
            for kb, ids in self.keyword.ids_by_kb().items():
                stale = sorted(ids - live_by_kb.get(kb, set()))
                if stale:
                    self.keyword.apply(remove_ids=stale)
                    removed += len(stale)
            for kb in self.vector.kbs():
                stale = sorted(set(self.vector.ids(kb)) - live_by_kb.get(kb, set()))
                if stale:
                    self.vector.delete(kb, stale)
                    removed += len(stale)
        return removed

    def _purge(self, kb: str, chunk_ids: list[str]) -> None:
        if not chunk_ids:
            return
        self.keyword.apply(remove_ids=chunk_ids)
        self.vector.delete(kb, chunk_ids)

    def _discard(self, kb: str, chunk_ids: list[str]) -> None:
        """Best-effort removal of chunks that never became live (they are invisible anyway)."""
        try:
            self._purge(kb, chunk_ids)
        except Exception:  # pragma: no cover - the catalog never listed them
            log.warning("could not discard %d orphan chunks of kb %s", len(chunk_ids), kb)


def _meta_dict(meta: DocumentMeta) -> dict:
    return {k: v for k, v in meta.__dict__.items()}


ProgressCallback = Callable[[IngestResult], None]
