"""The ingestion job: load, chunk, embed, index, and switch the document over in one step.

Order matters for readers and for crashes:
1. new chunks are written to the vector and keyword indexes (invisible: the catalog does not list them);
2. the catalog switches the document to the new chunk set in one transaction (the visible step);
3. chunks that are no longer live are purged from both indexes.
A crash before 2 leaves the old version live and some invisible orphans; a crash after 2 leaves the
new version live and some invisible leftovers. Either way no reader sees half a document, and the
catalog's ledger (chunks staged before step 1, retired in step 2) tells any process later what to purge.

Step 3 runs at once, under the visibility gate, when one process owns the storage. On shared storage
(replicas and workers on PostgreSQL and a Chroma server) no lock reaches the readers of other
processes: they resolve their hits as of the catalog clock they read before searching (see
``assistant/storage/sql/catalog.py``), which needs the retired chunks in the indexes a while longer.
So there the purge is left to the janitor, ``retire_grace_seconds`` after the switch.

A writer holds the lock of each document it writes (``DocumentLocks``) from reading what is stored to
the switch, so two workers never interleave on one document; the second waits for the first.

Everything that can refuse a file is decided before step 1 (its id, its size, its text and chunk counts),
so a refused file costs no embedding and leaves nothing behind. A document holds at most
``max_document_chars`` characters of text and ``max_document_chunks`` chunks: a small DOCX can inflate
to megabytes of XML, and embedding it would hold the only ingestion worker for many minutes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from assistant.domain import Chunk, Document, DocumentMeta
from assistant.embed.base import Embedder
from assistant.errors import AssistantError, IngestError
from assistant.storage.interfaces import Catalog, DocumentLocks, KeywordIndex, VectorIndex, Visibility
from assistant.storage.janitor import IndexJanitor
from assistant.storage.locks import LocalDocumentLocks
from assistant.text.tokenize import Tokenizer
from ingest.chunking import chunk_document
from ingest.ids import document_id, same_file_name, shown, slug, taken_by_another_file
from ingest.loaders.base import LoadedDocument, load_file
from ingest.metadata import describe

log = logging.getLogger(__name__)

Status = Literal["added", "replaced", "unchanged", "failed"]

ProgressCallback = Callable[["IngestResult"], None]
EMBED_BATCH = 128
SWITCH_GROUP = 50  # documents switched per hold of the visibility gate
STAGE_TTL_SECONDS = 3600.0  # staged chunks not live by then were left by a writer that died
# A 300-page SOP holds ~1,000 (Chinese) to ~3,500 (dense English) characters a page, and makes at most
# ~20 chunks a page (the demo SOPs make one per 85 characters: short sections): 5,000 characters and
# 20 chunks a page for 300 pages. The 9.5 MB-of-XML DOCX that made 9,834 chunks is over both.
MAX_DOCUMENT_CHARS = 1_500_000
MAX_DOCUMENT_CHUNKS = 6_000
COMMIT_CHUNKS = 5_000  # a batch is switched in groups of files holding about this many chunks (memory)

__all__ = ["MAX_DOCUMENT_CHARS", "MAX_DOCUMENT_CHUNKS", "IngestResult", "Ingestor", "embedding_text", "slug"]


@dataclass
class IngestResult:
    source: str
    status: Status
    doc_id: str | None = None
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """A document ready to switch in: its full chunk set, and the chunks not yet in the indexes."""

    doc: Document
    chunks: list[Chunk]
    fresh: list[Chunk]
    replaces: bool
    warnings: list[str]


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
        tokenizer: Tokenizer,
        gate: Visibility,
        *,
        chunk_size: int = 400,
        chunk_overlap: int = 60,
        max_bytes: int = 50 * 1024 * 1024,
        max_document_chars: int = MAX_DOCUMENT_CHARS,
        max_document_chunks: int = MAX_DOCUMENT_CHUNKS,
        with_vectors: bool = True,
        stage_ttl_seconds: float = STAGE_TTL_SECONDS,
        locks: DocumentLocks | None = None,
        retire_grace_seconds: float = 0,
    ):
        self.catalog = catalog
        self.keyword = keyword
        self.vector = vector
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.gate = gate
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.max_bytes = max_bytes
        self.max_document_chars = max_document_chars
        self.max_document_chunks = max_document_chunks
        self.with_vectors = with_vectors  # False only for keyword-only evaluation runs
        self.stage_ttl_seconds = stage_ttl_seconds
        self.locks = locks or LocalDocumentLocks()
        self.retire_grace_seconds = retire_grace_seconds  # 0: purge at the switch (storage owned alone)
        self.janitor = IndexJanitor(catalog, keyword, vector, gate, retire_grace_seconds=retire_grace_seconds)

    # -- entry points ------------------------------------------------------------------------
    def ingest_file(
        self, path: Path, kb: str, meta: DocumentMeta | None = None, *, source: str | None = None
    ) -> IngestResult:
        """Ingest one file; failures come back as a result, never half-written."""
        return self.ingest_files([Path(path)], kb, [meta or DocumentMeta()], sources=[source])[0]

    def ingest_files(
        self,
        paths: Sequence[Path],
        kb: str,
        metas: Sequence[DocumentMeta] | None = None,
        *,
        sources: Sequence[str | None] | None = None,
        on_result: ProgressCallback | None = None,
        by: str = "",
    ) -> list[IngestResult]:
        """Ingest several files with batched, pipelined embedding; each document switches atomically.

        A file that fails (unreadable, too big, empty, its id taken by another file...) gets a
        failed result naming it; the others still go in. Files are switched in groups holding about
        ``COMMIT_CHUNKS`` chunks, so a batch of many large files is never all in memory at once.
        ``by`` (a principal id) is who the documents' history names.
        """
        metas = list(metas) if metas is not None else [DocumentMeta() for _ in paths]
        sources = list(sources) if sources is not None else [None] * len(paths)
        try:
            self.catalog.require_kb(kb)
        except AssistantError as exc:
            return [IngestResult(source=s or Path(p).name, status="failed", error=str(exc)) for p, s in zip(paths, sources)]
        ids = _document_ids([s or Path(p).name for p, s in zip(paths, sources)], metas)
        with self.locks.hold(kb, ids):
            return self._ingest_files(paths, kb, metas, sources, on_result, by)

    def _ingest_files(self, paths, kb, metas, sources, on_result, by) -> list[IngestResult]:
        claimed: dict[str, str] = {}  # document id -> the file of this batch that has it
        results: list[IngestResult] = []
        outcomes: list[_Plan | IngestResult] = []
        held = 0
        for path, meta, source in zip(paths, metas, sources):
            outcome = self._plan_file(Path(path), kb, meta, source or Path(path).name, claimed)
            outcomes.append(outcome)
            held += len(outcome.chunks) if isinstance(outcome, _Plan) else 0
            if held >= COMMIT_CHUNKS:
                results += self._commit(kb, outcomes, on_result, by=by)
                outcomes, held = [], 0
        return results + (self._commit(kb, outcomes, on_result, by=by) if outcomes else [])

    def ingest_batch(
        self, items: list[tuple[LoadedDocument, DocumentMeta, str]], kb: str, *, by: str = ""
    ) -> list[IngestResult]:
        """Ingest already-loaded documents (eval corpora): (loaded, metadata with an id, source)."""
        self.catalog.require_kb(kb)
        with self.locks.hold(kb, _document_ids([source for _, _, source in items], [m for _, m, _ in items])):
            return self._ingest_batch(items, kb, by)

    def _ingest_batch(self, items: list[tuple[LoadedDocument, DocumentMeta, str]], kb: str, by: str) -> list[IngestResult]:
        claimed: dict[str, str] = {}
        outcomes: list[_Plan | IngestResult] = []
        for loaded, meta, source in items:
            target = self._target(kb, meta, source, claimed)
            outcomes.append(target if isinstance(target, IngestResult) else
                            self._plan(loaded, kb, meta, source, target, content_hash=""))
        return self._commit(kb, outcomes, None, by=by)

    def ingest_curated(
        self, loaded: LoadedDocument, kb: str, meta: DocumentMeta, *, curated_by: str, by: str = ""
    ) -> IngestResult:
        """Ingest an entry a person wrote (no file: built in memory, see ``loaders.faq.curated_entry``)
        under ``meta.id``, marked as curated by ``curated_by``; the same checks and one-step switch."""
        self.catalog.require_kb(kb)
        with self.locks.hold(kb, _document_ids(["curated"], [meta])):
            return self._ingest_curated(loaded, kb, meta, curated_by, by)

    def _ingest_curated(self, loaded: LoadedDocument, kb: str, meta: DocumentMeta, curated_by: str, by: str) -> IngestResult:
        source = "curated"
        target = self._target(kb, meta, source, {})
        if isinstance(target, IngestResult):
            return target
        plan = self._plan(loaded, kb, meta, source, target, content_hash="")
        if isinstance(plan, _Plan):
            plan.doc = plan.doc.model_copy(update={"curated_by": curated_by})
        return self._commit(kb, [plan], None, by=by)[0]

    # -- planning ------------------------------------------------------------------------------
    def _plan_file(
        self, path: Path, kb: str, meta: DocumentMeta, source: str, claimed: dict[str, str]
    ) -> _Plan | IngestResult:
        target = self._target(kb, meta, source, claimed)
        if isinstance(target, IngestResult):
            return target
        try:
            size = path.stat().st_size if path.exists() else 0
            if size > self.max_bytes:
                raise IngestError(
                    source, f"file is {size / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.0f} MB limit"
                )
            data_hash = hashlib.sha256(path.read_bytes() if path.exists() else b"").hexdigest()
            loaded = load_file(path)
        except AssistantError as exc:
            message = f"{shown(source)}: {exc.problem if isinstance(exc, IngestError) else exc}"
            return IngestResult(source=source, status="failed", doc_id=target[0], error=message)
        return self._plan(loaded, kb, meta, source, target, content_hash=data_hash)

    def _target(
        self, kb: str, meta: DocumentMeta, source: str, claimed: dict[str, str]
    ) -> tuple[str, Document | None] | IngestResult:
        """The document a file goes in as (its id and the stored document, if any), or why it may not.

        See ``ingest/ids.py``: an id derived from the file name never silently takes another file's.
        """
        try:
            doc_id = document_id(source, meta.id)
        except IngestError as exc:
            return IngestResult(source=source, status="failed", doc_id=meta.id, error=str(exc))

        def refused(error: str) -> IngestResult:
            return IngestResult(source=source, status="failed", doc_id=doc_id, error=error)

        if doc_id in claimed:
            return refused(taken_by_another_file(source, doc_id, claimed[doc_id], same_upload=True))
        existing = self.catalog.get_document(doc_id)
        if existing and existing.kb != kb:
            return refused(
                f"{shown(source)}: document id {doc_id!r} already belongs to knowledge base {existing.kb!r}; "
                "delete it there or give this one another id"
            )
        if existing and meta.id is None and existing.source and not same_file_name(existing.source, source):
            return refused(taken_by_another_file(source, doc_id, existing.source, same_upload=False))
        claimed[doc_id] = source
        return doc_id, existing

    def _plan(
        self,
        loaded: LoadedDocument,
        kb: str,
        meta: DocumentMeta,
        source: str,
        target: tuple[str, Document | None],
        *,
        content_hash: str,
    ) -> _Plan | IngestResult:
        doc_id, existing = target

        def refused(problem: str) -> IngestResult:
            return IngestResult(source=source, status="failed", doc_id=doc_id, error=f"{shown(source)}: {problem}")

        described = describe(meta, loaded, existing)  # what is not given keeps its stored value
        self.tokenizer.add_terms(described.tags)  # a tag is domain vocabulary: keep it one word from now on
        settings_hash = hashlib.sha256(
            json.dumps(
                [content_hash, self.chunk_size, self.chunk_overlap, self.embedder.name, described.as_dict()],
                ensure_ascii=False,
            ).encode()
        ).hexdigest()
        if content_hash and existing and existing.content_hash == settings_hash:
            return IngestResult(source=source, status="unchanged", doc_id=doc_id, chunks=len(self.catalog.chunk_ids(doc_id)))
        chars = sum(len(b.text) + len(b.question or "") for b in loaded.blocks)
        if chars > self.max_document_chars:
            return refused(
                f"its text is {chars:,} characters, more than {self.max_document_chars:,} characters "
                "for one document; split the document into smaller files"
            )
        doc = Document(id=doc_id, kb=kb, source=source, content_hash=settings_hash, **described.as_dict())
        chunks = chunk_document(doc_id, kb, loaded, size=self.chunk_size, overlap=self.chunk_overlap)
        if not chunks:
            return refused("no text to index")
        if len(chunks) > self.max_document_chunks:
            return refused(
                f"it makes {len(chunks):,} chunks, more than {self.max_document_chunks:,} chunks "
                "for one document; split the document into smaller files"
            )
        live = set(self.catalog.chunk_ids(doc_id)) if existing else set()
        fresh = [c for c in chunks if c.id not in live]
        return _Plan(doc=doc, chunks=chunks, fresh=fresh, replaces=existing is not None, warnings=list(loaded.warnings))

    # -- committing ----------------------------------------------------------------------------
    def _commit(
        self, kb: str, outcomes: list[_Plan | IngestResult], on_result: ProgressCallback | None, *, by: str = ""
    ) -> list[IngestResult]:
        plans = [o for o in outcomes if isinstance(o, _Plan)]
        fresh = [c for p in plans for c in p.fresh]
        fresh_ids = [c.id for c in fresh]
        self.catalog.stage(kb, fresh_ids, ttl_seconds=self.stage_ttl_seconds)  # before any index sees them
        try:
            self._index_fresh(kb, fresh)  # invisible until the catalog lists them
        except Exception:
            self._discard(kb, fresh_ids)
            raise
        results: list[IngestResult] = []
        for start in range(0, len(outcomes), SWITCH_GROUP):
            group = outcomes[start : start + SWITCH_GROUP]
            removed: list[str] = []
            with self.gate.switching():
                for outcome in group:
                    if isinstance(outcome, IngestResult):
                        results.append(outcome)
                        continue
                    try:
                        replacement = self.catalog.replace_document(outcome.doc, outcome.chunks, by=by)
                    except AssistantError as exc:
                        self._discard(kb, [c.id for c in outcome.fresh])
                        results.append(IngestResult(source=outcome.doc.source, status="failed",
                                                    doc_id=outcome.doc.id, error=f"{shown(outcome.doc.source)}: {exc}"))
                        continue
                    removed.extend(replacement.removed_ids)
                    results.append(IngestResult(
                        source=outcome.doc.source, status="replaced" if outcome.replaces else "added",
                        doc_id=outcome.doc.id, chunks=len(outcome.chunks), warnings=outcome.warnings,
                    ))
                if not self.retire_grace_seconds:  # else the janitor purges after the grace period
                    self._purge(kb, removed)
                    self.catalog.drop_history(_now())  # no reader of this process is between search and resolve
            if on_result:
                for result in results[start:]:
                    on_result(result)
        self.catalog.settle(kb, fresh_ids)  # live now, or discarded: the indexes agree with the catalog
        return results

    def _index_fresh(self, kb: str, fresh: list[Chunk]) -> None:
        """Embed in batches on a helper thread while the previous batch goes into Chroma."""
        if not fresh:
            return
        if not self.with_vectors:
            self.keyword.apply(add=fresh)
            return
        batches = [fresh[i : i + EMBED_BATCH] for i in range(0, len(fresh), EMBED_BATCH)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed") as pool:
            pending = pool.submit(self.embedder.embed_documents, [embedding_text(c) for c in batches[0]])
            for i, batch in enumerate(batches):
                vectors = pending.result()
                if i + 1 < len(batches):
                    nxt = batches[i + 1]
                    pending = pool.submit(self.embedder.embed_documents, [embedding_text(c) for c in nxt])
                self.vector.add(kb, [c.id for c in batch], vectors, [c.doc_id for c in batch])
        self.keyword.apply(add=fresh)

    def delete_document(self, doc_id: str, *, by: str = "") -> bool:
        doc = self.catalog.get_document(doc_id)
        if doc is None:
            return False
        with self.locks.hold(doc.kb, [doc_id]), self.gate.switching():
            removed = self.catalog.delete_document(doc_id, by=by)
            self.janitor.purge(doc.kb, removed)
        return True

    def delete_kb(self, kb: str, *, by: str = "") -> None:
        with self.gate.switching():
            self.catalog.delete_kb(kb, by=by)
            self.janitor.drop_kb(kb)

    def _purge(self, kb: str, chunk_ids: list[str]) -> None:
        self.janitor.purge(kb, chunk_ids)

    def _discard(self, kb: str, chunk_ids: list[str]) -> None:
        """Best-effort removal of chunks that never became live (they are invisible anyway)."""
        try:
            self._purge(kb, chunk_ids)
        except Exception:  # pragma: no cover - the catalog never listed them
            log.warning("could not discard %d orphan chunks of kb %s", len(chunk_ids), kb)


def _document_ids(sources: Sequence[str], metas: Sequence[DocumentMeta]) -> list[str]:
    """The ids the files will go in as (those that have none are refused later, one by one)."""
    ids = []
    for source, meta in zip(sources, metas):
        try:
            ids.append(document_id(source, meta.id))
        except IngestError:
            continue
    return ids


def _now() -> datetime:
    return datetime.now(timezone.utc)
