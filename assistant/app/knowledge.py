"""Use cases on knowledge bases and documents, called alike by the HTTP API and the CLI.

Uploads are copied into a folder of their job (``<uploads>/<job id>/<n>/<name>``) and queued; a
worker ingests them and removes the copies when the job ends. Local ingestion (the CLI owning the data
directory) runs the same ingestor in the foreground.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.app.container import Services
from assistant.domain import Chunk, Document, DocumentMeta, KnowledgeBase
from assistant.errors import AssistantError
from assistant.storage.interfaces import Job, StagedFile
from ingest.job import IngestResult

COPY_CHUNK = 1024 * 1024
CLI_GROUP = 20  # files per ingestion batch: they share embedding batches and index commits


class DocumentNotFound(AssistantError):
    def __init__(self, kb: str, doc_id: str):
        super().__init__(f"no document {doc_id!r} in knowledge base {kb!r}")


class MultiFileMetadata(AssistantError):
    def __init__(self) -> None:
        super().__init__("a document id and a title apply to one file; upload files one at a time to set them")


@dataclass(frozen=True)
class Upload:
    """One file of an upload: the name it was sent under and its bytes."""

    name: str
    stream: BinaryIO


class KnowledgeBases:
    def __init__(self, services: Services):
        self.services = services
        self.catalog = services.catalog

    # -- knowledge bases -------------------------------------------------------------------------
    def list(self) -> list[KnowledgeBase]:
        return self.catalog.list_kbs()

    def create(self, name: str, description: str = "") -> bool:
        return self.catalog.create_kb(name, description)

    def delete(self, name: str) -> None:
        self.catalog.require_kb(name)
        self.services.ingestor().delete_kb(name)

    # -- documents -------------------------------------------------------------------------------
    def documents(self, kb: str | None = None) -> list[tuple[Document, int]]:
        if kb is not None:
            self.catalog.require_kb(kb)
        return self.catalog.list_documents(kb)

    def document(self, kb: str, doc_id: str) -> tuple[Document, list[Chunk]]:
        doc = self.catalog.get_document(doc_id)
        if doc is None or doc.kb != kb:
            raise DocumentNotFound(kb, doc_id)
        return doc, self.catalog.chunks_of(doc_id)

    def delete_document(self, kb: str, doc_id: str) -> None:
        doc = self.catalog.get_document(doc_id)
        if doc is None or doc.kb != kb:
            raise DocumentNotFound(kb, doc_id)
        self.services.ingestor().delete_document(doc_id)

    # -- ingestion -------------------------------------------------------------------------------
    def upload(self, kb: str, files: Sequence[Upload], meta: DocumentMeta, *, max_bytes: int) -> Job:
        """Copy the files to the job's folder and queue the job; returns it at once.

        A file over ``max_bytes`` is kept only up to the limit: the job reports it as too big.
        """
        self.catalog.require_kb(kb)
        if (meta.id or meta.title) and len(files) > 1:
            raise MultiFileMetadata()
        job_id = uuid.uuid4().hex
        folder = self.services.upload_folder(job_id)
        staged: list[StagedFile] = []
        for n, upload in enumerate(files):
            name = Path(upload.name or "upload").name
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
        return self.services.jobs.submit(kb, staged, meta, job_id=job_id)

    def job(self, job_id: str) -> Job | None:
        return self.services.jobs.get(job_id)

    def ingest_local(
        self,
        kb: str,
        paths: Sequence[Path],
        meta: DocumentMeta,
        on_result: Callable[[IngestResult], None] | None = None,
        on_group: Callable[[Path], None] | None = None,
    ) -> list[IngestResult]:
        """Ingest files this process can read, in groups, creating the KB if needed."""
        if (meta.id or meta.title) and len(paths) > 1:
            raise MultiFileMetadata()
        ingestor = self.services.ingestor()
        metas = [meta] if len(paths) == 1 else [meta.shared()] * len(paths)
        results: list[IngestResult] = []
        for start in range(0, len(paths), CLI_GROUP):
            group = list(paths[start : start + CLI_GROUP])
            if on_group:
                on_group(group[0])
            results += ingestor.ingest_files(group, kb, metas[start : start + CLI_GROUP], on_result=on_result)
        return results

