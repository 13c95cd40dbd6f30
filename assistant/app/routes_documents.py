"""Knowledge bases, documents and upload jobs over HTTP.

An upload is copied into the job's folder and queued; the response is the job id at once, and
``GET /v1/jobs/{id}`` reports progress and each file's result. A worker (a thread of the server, or
``assistant worker`` processes) ingests it.

Every route takes a principal: reading needs the knowledge base to be readable by it (else 404, as if
it did not exist), changing needs write access on it (else 403).

    GET   /v1/kbs/{kb}/documents?q=&status=enabled|disabled&offset=&limit=   a page, newest first, and the total
    PATCH /v1/kbs/{kb}/documents/{id}  {"disabled": true}                     kept, never retrieved (false: back)
    GET   /v1/kbs/{kb}/documents/{id}/versions                               its history: what changed, when, by whom
    GET   /v1/kbs/{kb}/documents/{id}/chunks?offset=&limit=                  its passages in reading order
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field

from assistant.access import Forbidden
from assistant.app.audit_trail import Actor
from assistant.app.http_auth import Guard, request_id
from assistant.app.http_limits import ROW_ID_MAX
from assistant.app.knowledge import (
    MAX_PAGE,
    DocumentNotFound,
    KnowledgeBases,
    Upload,
)
from assistant.domain import Chunk, Document, DocumentMeta, DocumentVersion, KnowledgeBase, Principal
from assistant.errors import AssistantError, UnknownKnowledgeBase


class KbCreate(BaseModel):
    name: str = Field(description="2-63 lower-case letters, digits, '-' or '_'.")
    description: str = Field("", max_length=500)
    department: str | None = Field(None, description="The owning department; a knowledge manager's own by default.")


class DocumentChange(BaseModel):
    disabled: bool = Field(description="true: kept, but never retrieved (no answer, citation or FAQ match); false: back.")


def _doc_json(doc: Document, chunks: int) -> dict:
    return {**doc.model_dump(mode="json"), "chunks": chunks}


def _chunk_json(chunk: Chunk) -> dict:
    return {"id": chunk.id, "ordinal": chunk.ordinal, "section": chunk.section, "page": chunk.page,
            "kind": chunk.kind, "question": chunk.question, "text": chunk.text}


def documents_router(knowledge: KnowledgeBases, guard: Guard, *, max_upload_bytes: int) -> APIRouter:
    router = APIRouter(prefix="/v1")

    def actor(request: Request, principal: Principal = Depends(guard.principal)) -> Actor:
        return Actor(principal, "api", request_id(request))

    who = Depends(actor)

    @router.get("/kbs")
    def list_kbs(a: Actor = who) -> list[KnowledgeBase]:
        return knowledge.list(a)

    @router.post("/kbs", status_code=201)
    def create_kb(body: KbCreate, a: Actor = who) -> dict:
        with _refused():
            created = knowledge.create(a, body.name, body.description, body.department)
        if not created:
            raise HTTPException(409, f"knowledge base {body.name!r} already exists")
        kb = next(k for k in knowledge.list(a) if k.name == body.name)
        return {"name": kb.name, "description": kb.description, "department": kb.department}

    @router.delete("/kbs/{kb}")
    def delete_kb(kb: str, a: Actor = who) -> dict:
        with _refused():
            knowledge.delete(a, kb)
        return {"deleted": kb}

    @router.get("/kbs/{kb}/documents")
    def list_documents(
        kb: str,
        q: Annotated[str, Query(max_length=200, description="Part of the id, title, owner, file name or tags.")] = "",
        status: Literal["enabled", "disabled"] | None = None,
        offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        a: Actor = who,
    ) -> dict:
        with _refused():
            page = knowledge.page(a, kb, search=q, disabled=None if status is None else status == "disabled",
                                  offset=offset, limit=limit)
        return {"documents": [_doc_json(d, n) for d, n in page.documents], "total": page.total,
                "offset": offset, "limit": limit}

    @router.get("/kbs/{kb}/documents/{doc_id}")
    def get_document(kb: str, doc_id: str, a: Actor = who) -> dict:
        with _refused():
            doc, chunks = knowledge.document(a, kb, doc_id)
        return _doc_json(doc, len(chunks))

    @router.patch("/kbs/{kb}/documents/{doc_id}")
    def change_document(kb: str, doc_id: str, body: DocumentChange, a: Actor = who) -> dict:
        with _refused():
            doc = knowledge.set_disabled(a, kb, doc_id, body.disabled)
            return _doc_json(doc, knowledge.chunks(a, kb, doc_id, limit=1).total)

    @router.get("/kbs/{kb}/documents/{doc_id}/versions")
    def document_versions(kb: str, doc_id: str, a: Actor = who) -> list[DocumentVersion]:
        with _refused():
            return knowledge.versions(a, kb, doc_id)

    @router.get("/kbs/{kb}/documents/{doc_id}/chunks")
    def document_chunks(
        kb: str,
        doc_id: str,
        offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        a: Actor = who,
    ) -> dict:
        with _refused():
            page = knowledge.chunks(a, kb, doc_id, offset=offset, limit=limit)
        return {"chunks": [_chunk_json(c) for c in page.chunks], "total": page.total, "offset": offset, "limit": limit}

    @router.delete("/kbs/{kb}/documents/{doc_id}")
    def delete_document(kb: str, doc_id: str, a: Actor = who) -> dict:
        with _refused():
            knowledge.delete_document(a, kb, doc_id)
        return {"deleted": doc_id}

    @router.post("/kbs/{kb}/documents", status_code=202)
    def upload(
        kb: str,
        files: Annotated[list[UploadFile], File(description="One or more files.")],
        doc_id: Annotated[str | None, Form(description="Document id (one file only).", max_length=200)] = None,
        title: Annotated[str | None, Form(max_length=300)] = None,
        version: Annotated[str | None, Form(max_length=50)] = None,
        effective_date: Annotated[str | None, Form(max_length=30)] = None,
        owner: Annotated[str | None, Form(max_length=100)] = None,
        tags: Annotated[str | None, Form(description="Comma-separated.", max_length=1000)] = None,
        url: Annotated[str | None, Form(max_length=2000)] = None,
        a: Actor = who,
    ) -> dict:
        with _refused():
            meta = DocumentMeta(
                id=doc_id, title=title, version=version, effective_date=effective_date, owner=owner, tags=tags, url=url
            )
            job = knowledge.upload(a, kb, [Upload(f.filename or "upload", f.file) for f in files], meta,
                                   max_bytes=max_upload_bytes)
        return {"job_id": job.id, "status_url": f"/v1/jobs/{job.id}"}

    @router.get("/jobs/{job_id}")
    def get_job(job_id: str, a: Actor = who) -> dict:
        job = knowledge.job(a, job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job.public()

    return router


@contextmanager
def _refused() -> Iterator[None]:
    """The use cases' errors as HTTP: not there (or not readable) 404, not allowed 403, bad input 400."""
    try:
        yield
    except (UnknownKnowledgeBase, DocumentNotFound) as exc:
        raise HTTPException(404, str(exc)) from exc
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from exc
    except (AssistantError, ValueError) as exc:  # MultiFileMetadata, BadFileName, a bad field
        raise HTTPException(400, str(exc)) from exc
