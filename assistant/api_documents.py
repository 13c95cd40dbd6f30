"""Knowledge bases, documents and upload jobs over HTTP.

Uploads are copied into the data directory's upload area, then ingested by one background worker;
the response is a job id at once. ``GET /v1/jobs/{id}`` reports progress and each file's result.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from assistant.errors import AssistantError, UnknownKnowledgeBase
from assistant.services import Services

COPY_CHUNK = 1024 * 1024


class KbCreate(BaseModel):
    name: str = Field(description="2-63 lower-case letters, digits, '-' or '_'.")
    description: str = ""


def _doc_json(doc, chunks: int) -> dict:
    return {**doc.model_dump(mode="json"), "chunks": chunks}


def documents_router(services: Services, worker) -> APIRouter:
    """Routes for KBs, documents and jobs; ``worker`` is the ingestion worker of this process."""
    from ingest.job import DocumentMeta
    from ingest.worker import UploadedFile

    router = APIRouter(prefix="/v1")
    catalog = services.catalog
    limit = services.settings.max_upload_mb * 1024 * 1024
    uploads = services.settings.data_dir / "uploads"

    def require_kb(kb: str) -> None:
        try:
            catalog.require_kb(kb)
        except UnknownKnowledgeBase as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/kbs")
    def list_kbs() -> list[dict]:
        return catalog.list_kbs()

    @router.post("/kbs", status_code=201)
    def create_kb(body: KbCreate) -> dict:
        try:
            created = catalog.create_kb(body.name, body.description)
        except AssistantError as exc:
            raise HTTPException(400, str(exc)) from exc
        if not created:
            raise HTTPException(409, f"knowledge base {body.name!r} already exists")
        return {"name": body.name, "description": body.description}

    @router.delete("/kbs/{kb}")
    def delete_kb(kb: str) -> dict:
        require_kb(kb)
        worker.ingestor.delete_kb(kb)
        return {"deleted": kb}

    @router.get("/kbs/{kb}/documents")
    def list_documents(kb: str) -> list[dict]:
        require_kb(kb)
        return [_doc_json(d, n) for d, n in catalog.list_documents(kb)]

    @router.get("/kbs/{kb}/documents/{doc_id}")
    def get_document(kb: str, doc_id: str) -> dict:
        doc = catalog.get_document(doc_id)
        if doc is None or doc.kb != kb:
            raise HTTPException(404, f"no document {doc_id!r} in knowledge base {kb!r}")
        return _doc_json(doc, len(catalog.chunk_ids(doc_id)))

    @router.delete("/kbs/{kb}/documents/{doc_id}")
    def delete_document(kb: str, doc_id: str) -> dict:
        doc = catalog.get_document(doc_id)
        if doc is None or doc.kb != kb:
            raise HTTPException(404, f"no document {doc_id!r} in knowledge base {kb!r}")
        worker.ingestor.delete_document(doc_id)
        return {"deleted": doc_id}

    @router.post("/kbs/{kb}/documents", status_code=202)
    def upload(
        kb: str,
        files: Annotated[list[UploadFile], File(description="One or more files.")],
        doc_id: Annotated[str | None, Form(description="Document id (one file only).")] = None,
        title: Annotated[str | None, Form()] = None,
        version: Annotated[str | None, Form()] = None,
        effective_date: Annotated[str | None, Form()] = None,
        owner: Annotated[str | None, Form()] = None,
        tags: Annotated[str | None, Form(description="Comma-separated.")] = None,
        url: Annotated[str | None, Form()] = None,
    ) -> dict:
        require_kb(kb)
        if (doc_id or title) and len(files) > 1:
            raise HTTPException(400, "doc_id and title apply to a single file; upload files one at a time to set them")
        saved: list[UploadedFile] = []
        for upload_file in files:
            name = Path(upload_file.filename or "upload").name
            folder = uploads / uuid.uuid4().hex
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / name
            with target.open("wb") as out:
                copied = 0
                while chunk := upload_file.file.read(COPY_CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
                    if copied > limit:  # keep just enough for the job to report the size error
                        break
            saved.append(UploadedFile(path=target, source=name))
        meta = DocumentMeta(
            id=doc_id, title=title, version=version, effective_date=effective_date, owner=owner,
            tags=[t.strip() for t in (tags or "").split(",") if t.strip()], url=url,
        )
        job_id = worker.submit(kb, saved, meta)
        return {"job_id": job_id, "status_url": f"/v1/jobs/{job_id}"}

    @router.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        job = worker.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    return router


def clear_uploads(services: Services) -> None:
    shutil.rmtree(services.settings.data_dir / "uploads", ignore_errors=True)
