"""Knowledge bases, documents and upload jobs over HTTP.

An upload is copied into the job's folder and queued; the response is the job id at once, and
``GET /v1/jobs/{id}`` reports progress and each file's result. A worker (a thread of the server, or
``assistant worker`` processes) ingests it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from assistant.app.knowledge import (
    DocumentNotFound,
    KnowledgeBases,
    MultiFileMetadata,
    Upload,
)
from assistant.domain import Document, DocumentMeta, KnowledgeBase
from assistant.errors import AssistantError, UnknownKnowledgeBase


class KbCreate(BaseModel):
    name: str = Field(description="2-63 lower-case letters, digits, '-' or '_'.")
    description: str = ""


def _doc_json(doc: Document, chunks: int) -> dict:
    return {**doc.model_dump(mode="json"), "chunks": chunks}


def documents_router(knowledge: KnowledgeBases, *, max_upload_bytes: int) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/kbs")
    def list_kbs() -> list[KnowledgeBase]:
        return knowledge.list()

    @router.post("/kbs", status_code=201)
    def create_kb(body: KbCreate) -> dict:
        try:
            created = knowledge.create(body.name, body.description)
        except AssistantError as exc:
            raise HTTPException(400, str(exc)) from exc
        if not created:
            raise HTTPException(409, f"knowledge base {body.name!r} already exists")
        return {"name": body.name, "description": body.description}

    @router.delete("/kbs/{kb}")
    def delete_kb(kb: str) -> dict:
        with _not_found():
            knowledge.delete(kb)
        return {"deleted": kb}

    @router.get("/kbs/{kb}/documents")
    def list_documents(kb: str) -> list[dict]:
        with _not_found():
            return [_doc_json(d, n) for d, n in knowledge.documents(kb)]

    @router.get("/kbs/{kb}/documents/{doc_id}")
    def get_document(kb: str, doc_id: str) -> dict:
        with _not_found():
            doc, chunks = knowledge.document(kb, doc_id)
        return _doc_json(doc, len(chunks))

    @router.delete("/kbs/{kb}/documents/{doc_id}")
    def delete_document(kb: str, doc_id: str) -> dict:
        with _not_found():
            knowledge.delete_document(kb, doc_id)
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
        meta = DocumentMeta(
            id=doc_id, title=title, version=version, effective_date=effective_date, owner=owner, tags=tags, url=url
        )
        try:
            job = knowledge.upload(kb, [Upload(f.filename or "upload", f.file) for f in files], meta,
                                   max_bytes=max_upload_bytes)
        except UnknownKnowledgeBase as exc:
            raise HTTPException(404, str(exc)) from exc
        except MultiFileMetadata as exc:
            raise HTTPException(400, str(exc)) from exc
        return {"job_id": job.id, "status_url": f"/v1/jobs/{job.id}"}

    @router.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict:
        job = knowledge.job(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job.public()

    return router


@contextmanager
def _not_found() -> Iterator[None]:
    """The use cases' "no such knowledge base / document" is a 404."""
    try:
        yield
    except (UnknownKnowledgeBase, DocumentNotFound) as exc:
        raise HTTPException(404, str(exc)) from exc
