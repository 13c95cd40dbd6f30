"""Use cases on knowledge bases and documents, called alike by the HTTP API and the CLI.

Uploads are copied into a folder of their job (``<uploads>/<job id>/<n>/<name>``) and queued; a
worker ingests them and removes the copies when the job ends. Local ingestion (the CLI owning the data
directory) runs the same ingestor in the foreground.

Every use case takes the :class:`Actor` doing it: a knowledge base the principal may not read does
not exist for them (``UnknownKnowledgeBase``), changing one takes write access (``Forbidden``), and
every change goes into the audit log.
"""

from __future__ import annotations

import hashlib
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from assistant.access import Forbidden, may_read, require_write, unrestricted
from assistant.app.audit_trail import Actor, act_entry
from assistant.app.container import Services
from assistant.domain import Chunk, Document, DocumentMeta, DocumentVersion, KnowledgeBase
from assistant.errors import AssistantError, UnknownKnowledgeBase
from assistant.storage.interfaces import ChunkPage, DocumentPage, Job, StagedFile
from ingest.job import IngestResult
from ingest.loaders.faq import curated_entry

COPY_CHUNK = 1024 * 1024
CLI_GROUP = 20  # files per ingestion batch: they share embedding batches and index commits
MAX_PAGE = 500  # documents or chunks per page


class DocumentNotFound(AssistantError):
    def __init__(self, kb: str, doc_id: str):
        super().__init__(f"no document {doc_id!r} in knowledge base {kb!r}")


class MultiFileMetadata(AssistantError):
    def __init__(self) -> None:
        super().__init__("a document id and a title apply to one file; upload files one at a time to set them")


class BadFileName(AssistantError):
    def __init__(self, name: str, problem: str):
        shown = name if len(name) <= 60 else name[:57] + "..."
        super().__init__(f"file name {shown!r}: {problem}; rename the file and upload it again")


MAX_NAME_BYTES = 255  # what file systems take


def upload_name(sent: str) -> str:
    """The name an uploaded file is stored under: its last path part, checked (no '..', NUL, control
    or direction-changing characters, nothing longer than a file system takes)."""
    name = sent.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        raise BadFileName(sent, "not a file name")
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs")), None)
    if bad is not None:
        raise BadFileName(sent, f"holds the control character U+{ord(bad):04X}")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise BadFileName(sent, f"longer than {MAX_NAME_BYTES} bytes")
    return name


@dataclass(frozen=True)
class Upload:
    """One file of an upload: the name it was sent under and its bytes."""

    name: str
    stream: BinaryIO


class KnowledgeBases:
    def __init__(self, services: Services):
        self.services = services
        self.catalog = services.catalog

    def _record(self, actor: Actor, action: str, target: str, kb: str, **detail: Any) -> None:
        self.services.audit.append(act_entry(actor.principal, action, target, channel=actor.channel, kbs=[kb],
                                             detail=detail, request_id=actor.request_id))

    def _readable(self, actor: Actor, name: str) -> KnowledgeBase:
        """The knowledge base, if it exists and the principal may read it; else it does not exist for them."""
        kb = next((k for k in self.catalog.list_kbs() if k.name == name), None)
        if kb is None or not may_read(actor.principal, kb):
            raise UnknownKnowledgeBase(name)
        return kb

    def _writable(self, actor: Actor, name: str) -> KnowledgeBase:
        kb = self._readable(actor, name)
        require_write(actor.principal, kb)
        return kb

    # -- knowledge bases -------------------------------------------------------------------------
    def list(self, actor: Actor) -> list[KnowledgeBase]:
        return [kb for kb in self.catalog.list_kbs() if may_read(actor.principal, kb)]

    def create(self, actor: Actor, name: str, description: str = "", department: str | None = None) -> bool:
        """Create a knowledge base owned by ``department`` (a knowledge manager's own department when
        they have exactly one); returns False when it exists already."""
        principal = actor.principal
        if not unrestricted(principal):
            if principal.role != "knowledge_manager":
                raise Forbidden("creating a knowledge base takes the knowledge_manager or admin role")
            if department is None and len(principal.departments) == 1:
                department = principal.departments[0]
            if department is not None and department not in principal.departments:
                raise Forbidden(f"a knowledge manager creates knowledge bases in their own departments, not {department!r}")
        if department is not None and department not in {d.name for d in self.services.directory.list_departments()}:
            raise AssistantError(f"no department {department!r}; an admin creates it first")
        created = self.catalog.create_kb(name, description, department)
        if created:
            self._record(actor, "kb.create", name, name, department=department)
        return created

    def delete(self, actor: Actor, name: str) -> None:
        self._writable(actor, name)
        self.services.ingestor().delete_kb(name, by=actor.principal.id)
        self._record(actor, "kb.delete", name, name)

    # -- documents -------------------------------------------------------------------------------
    def documents(self, actor: Actor, kb: str | None = None) -> list[tuple[Document, int]]:
        if kb is not None:
            self._readable(actor, kb)
            return self.catalog.list_documents(kb)
        readable = {k.name for k in self.list(actor)}
        return [(d, n) for d, n in self.catalog.list_documents(None) if d.kb in readable]

    def page(self, actor: Actor, kb: str, *, search: str = "", disabled: bool | None = None, offset: int = 0,
             limit: int = 50) -> DocumentPage:
        """One page of a knowledge base's documents, newest first, with how many match in all."""
        self._readable(actor, kb)
        return self.catalog.page_documents(kb, search=search, disabled=disabled, offset=max(0, offset),
                                           limit=min(max(1, limit), MAX_PAGE))

    def document(self, actor: Actor, kb: str, doc_id: str) -> tuple[Document, list[Chunk]]:
        doc = self._document(actor, kb, doc_id)
        return doc, self.catalog.chunks_of(doc_id)

    def _document(self, actor: Actor, kb: str, doc_id: str, *, write: bool = False) -> Document:
        if write:
            self._writable(actor, kb)
        else:
            self._readable(actor, kb)
        doc = self.catalog.get_document(doc_id)
        if doc is None or doc.kb != kb:
            raise DocumentNotFound(kb, doc_id)
        return doc

    def chunks(self, actor: Actor, kb: str, doc_id: str, *, offset: int = 0, limit: int = 50) -> ChunkPage:
        """One page of a document's chunks in reading order (heading path, page, text, kind)."""
        self._document(actor, kb, doc_id)
        return self.catalog.page_chunks(doc_id, offset=max(0, offset), limit=min(max(1, limit), MAX_PAGE))

    def versions(self, actor: Actor, kb: str, doc_id: str) -> list[DocumentVersion]:
        """A document's history, oldest first; a deleted document's too (it ends with "deleted")."""
        self._readable(actor, kb)
        history = [v for v in self.catalog.versions(doc_id) if v.kb == kb]
        if not history:
            raise DocumentNotFound(kb, doc_id)
        return history

    def delete_document(self, actor: Actor, kb: str, doc_id: str) -> None:
        doc = self._document(actor, kb, doc_id, write=True)
        self.services.ingestor().delete_document(doc_id, by=actor.principal.id)
        self._record(actor, "document.delete", doc_id, kb, title=doc.title, version=doc.version)

    def set_disabled(self, actor: Actor, kb: str, doc_id: str, disabled: bool) -> Document:
        """Disable (kept, never retrieved: no answer, citation or FAQ match shows it) or enable a document."""
        self._document(actor, kb, doc_id, write=True)
        doc = self.catalog.set_disabled(doc_id, disabled, by=actor.principal.id)
        if doc is None:  # deleted meanwhile
            raise DocumentNotFound(kb, doc_id)
        self._record(actor, "document.disable" if disabled else "document.enable", doc_id, kb, title=doc.title)
        return doc

    # -- curated entries ---------------------------------------------------------------------------
    def curate(self, actor: Actor, kb: str, question: str, answer: str, *, doc_id: str | None = None) -> Document:
        """Write (or, with the ``doc_id`` of a curated entry, rewrite) an FAQ entry of one question and
        its answer, ingested at once: the same question asked next is answered from it, and its
        citation names the author (the principal's display name)."""
        self._writable(actor, kb)
        question, answer = question.strip(), answer.strip()
        if doc_id is None:
            doc_id = curated_id(kb, question)
        else:
            existing = self.catalog.get_document(doc_id)
            if existing is None or existing.kb != kb or existing.curated_by is None:
                raise DocumentNotFound(kb, doc_id)
        meta = DocumentMeta(id=doc_id, title=question[:200])
        author = actor.principal.name or actor.principal.id
        result = self.services.ingestor().ingest_curated(curated_entry(question, answer), kb, meta, curated_by=author,
                                                         by=actor.principal.id)
        if result.status == "failed":
            raise AssistantError(result.error or f"the curated entry {doc_id!r} could not be written")
        self._record(actor, "document.curate", doc_id, kb, question=question[:200], status=result.status)
        doc = self.catalog.get_document(doc_id)
        assert doc is not None
        return doc

    # -- ingestion -------------------------------------------------------------------------------
    def upload(self, actor: Actor, kb: str, files: Sequence[Upload], meta: DocumentMeta, *, max_bytes: int) -> Job:
        """Copy the files to the job's folder and queue the job; returns it at once. Nothing is left
        behind when a file name is refused or copying fails.

        A file over ``max_bytes`` is kept only up to the limit: the job reports it as too big.
        """
        self._writable(actor, kb)
        if (meta.id or meta.title) and len(files) > 1:
            raise MultiFileMetadata()
        names = [upload_name(upload.name or "upload") for upload in files]  # all checked before a byte is written
        job_id = uuid.uuid4().hex
        folder = self.services.upload_folder(job_id)
        staged: list[StagedFile] = []
        try:
            for n, (upload, name) in enumerate(zip(files, names)):
                target = folder / str(n) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    copied = 0
                    while chunk := upload.stream.read(COPY_CHUNK):
                        out.write(chunk)
                        copied += len(chunk)
                        if copied > max_bytes:  # keep just enough for the job to report the size error
                            break
                staged.append(StagedFile(str(target), name))
            job = self.services.jobs.submit(kb, staged, meta, job_id=job_id, submitted_by=actor.principal.id)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._record(actor, "document.upload", job.id, kb, files=names, doc_id=meta.id)
        return job

    def job(self, actor: Actor, job_id: str) -> Job | None:
        job = self.services.jobs.get(job_id)
        if job is None:
            return None
        try:
            self._readable(actor, job.kb)
        except UnknownKnowledgeBase:
            return None  # another department's job does not exist for this principal
        return job

    def ingest_local(
        self,
        actor: Actor,
        kb: str,
        paths: Sequence[Path],
        meta: DocumentMeta,
        on_result: Callable[[IngestResult], None] | None = None,
        on_group: Callable[[Path], None] | None = None,
    ) -> list[IngestResult]:
        """Ingest files this process can read, in groups (the knowledge base must exist)."""
        self._writable(actor, kb)
        if (meta.id or meta.title) and len(paths) > 1:
            raise MultiFileMetadata()
        ingestor = self.services.ingestor()
        metas = [meta] if len(paths) == 1 else [meta.shared()] * len(paths)
        results: list[IngestResult] = []
        for start in range(0, len(paths), CLI_GROUP):
            group = list(paths[start : start + CLI_GROUP])
            if on_group:
                on_group(group[0])
            results += ingestor.ingest_files(group, kb, metas[start : start + CLI_GROUP], on_result=on_result,
                                             by=actor.principal.id)
        self._record(actor, "document.ingest", f"{len(paths)} files", kb,
                     files=[p.name for p in paths[:100]], failed=sum(r.status == "failed" for r in results))
        return results


def curated_id(kb: str, question: str) -> str:
    """A curated entry's document id: the same question curated again in one KB rewrites its entry."""
    digest = hashlib.sha1(f"{kb}\x1f{question.strip()}".encode()).hexdigest()[:12]
    return f"curated-{digest}"
