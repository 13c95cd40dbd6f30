"""Knowledge bases and documents: the list with counts, a KB's documents (search, paging), uploads
with their job followed live, a document's chunks and version history, disabling / enabling it
(a disabled document is kept but never retrieved), replacing it with a new version, and deleting it.

Everything goes through the use cases of ``assistant/app/knowledge.py`` with the viewer as actor
(channel ``console``): a knowledge base the viewer may not read is a 404 page, changing one takes
write access on it. The upload answers JSON (the page's script sends it and then polls
``GET /v1/jobs/{id}`` with the same session).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from assistant.access import Forbidden, may_write
from assistant.app.console.web import MANAGERS, PAGE_SIZE, STAFF, PageError, Pages, Paging, Viewer, page_number, \
    slice_page, with_query
from assistant.app.knowledge import DocumentNotFound, KnowledgeBases, Upload
from assistant.domain import DocumentMeta, KnowledgeBase
from assistant.errors import AssistantError, UnknownKnowledgeBase

NOTICES = ("kb_created", "document_deleted", "document_disabled", "document_enabled", "replace_queued")


def knowledge_router(pages: Pages, knowledge: KnowledgeBases, *, max_upload_bytes: int) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    catalog = pages.services.catalog

    def readable(request: Request, viewer: Viewer, name: str) -> KnowledgeBase:
        kb = next((k for k in knowledge.list(pages.actor(request, viewer)) if k.name == name), None)
        if kb is None:  # missing, or not readable: the same 404 either way
            raise PageError(404, "error.no_kb", name)
        return kb

    def kb_list(request: Request, viewer: Viewer, *, q: str = "", page: int = 1, status: int = 200,
                error: str = "", form: dict | None = None) -> Response:
        t = pages.translator(request)
        kbs = [kb for kb in knowledge.list(pages.actor(request, viewer))
               if not q or q.lower() in (kb.name + " " + kb.description + " " + (kb.department or "")).lower()]
        shown, paging = slice_page(kbs, page, with_query("/console/kbs", q=q))
        departments = (viewer.principal.departments if not viewer.principal.is_admin
                       else [d.name for d in pages.services.directory.list_departments()])
        notice = request.query_params.get("notice")
        return pages.render(
            request, "kbs.html", viewer, status=status, active="kbs", kbs=shown, paging=paging, q=q,
            chunks=catalog.chunk_counts(), writable={kb.name for kb in shown if may_write(viewer.principal, kb)},
            may_create=viewer.may(MANAGERS), departments=departments, form=form or {}, error=error,
            notice=t(f"notice.{notice}") if notice in NOTICES else "",
        )

    @router.get("/kbs")
    def kbs(request: Request, q: str = "", page: str = "1", viewer: Viewer = Depends(pages.page(*STAFF))) -> Response:
        return kb_list(request, viewer, q=q.strip(), page=page_number(page))

    @router.post("/kbs")
    def create_kb(request: Request, name: str = Form(""), description: str = Form("", max_length=500),
                  department: str = Form(""), viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        t = pages.translator(request)
        form = {"name": name, "description": description, "department": department}
        try:
            created = knowledge.create(pages.actor(request, viewer), name.strip(), description, department or None)
        except (AssistantError, ValueError) as exc:
            return kb_list(request, viewer, status=400, error=f"{t('error.not_done')}: {exc}", form=form)
        if not created:
            return kb_list(request, viewer, status=409, error=t("kbs.exists", name=name), form=form)
        return RedirectResponse(with_query(f"/console/kbs/{name.strip()}", notice="kb_created"), 303)

    @router.get("/kbs/{kb}")
    def documents(request: Request, kb: str, q: str = "", page: str = "1", status: str = "",
                  viewer: Viewer = Depends(pages.page(*STAFF))) -> Response:
        t = pages.translator(request)
        base = readable(request, viewer, kb)
        q = q.strip()[:200]
        number = page_number(page)
        status = status if status in ("enabled", "disabled") else ""
        found = knowledge.page(pages.actor(request, viewer), kb, search=q, offset=(number - 1) * PAGE_SIZE,
                               limit=PAGE_SIZE, disabled=None if not status else status == "disabled")
        paging = Paging(page=number, size=PAGE_SIZE, total=found.total,
                        base=with_query(f"/console/kbs/{kb}", q=q, status=status))
        notice = request.query_params.get("notice")
        return pages.render(
            request, "kb.html", viewer, active="kbs", kb=base, documents=found.documents, paging=paging, q=q,
            doc_status=status,
            writable=may_write(viewer.principal, base), max_upload_mb=max_upload_bytes // (1024 * 1024),
            notice=t(f"notice.{notice}") if notice in NOTICES else "",
        )

    @router.post("/kbs/{kb}/upload")
    def upload(
        request: Request,
        kb: str,
        files: Annotated[list[UploadFile], File()],
        owner: Annotated[str, Form(max_length=100)] = "",
        version: Annotated[str, Form(max_length=50)] = "",
        effective_date: Annotated[str, Form(max_length=30)] = "",
        tags: Annotated[str, Form(max_length=1000)] = "",
        url: Annotated[str, Form(max_length=2000)] = "",
        viewer: Viewer = Depends(pages.form(*MANAGERS)),
    ) -> JSONResponse:
        meta = DocumentMeta(owner=owner or None, version=version or None, effective_date=effective_date or None,
                            tags=tags, url=url or None)
        try:
            uploads = [Upload(f.filename or "upload", f.file) for f in files]
            job = knowledge.upload(pages.actor(request, viewer), kb, uploads, meta, max_bytes=max_upload_bytes)
        except UnknownKnowledgeBase as exc:
            return JSONResponse({"error": str(exc)}, 404)
        except Forbidden as exc:
            return JSONResponse({"error": str(exc)}, 403)
        except (AssistantError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"job_id": job.id, "status_url": f"/v1/jobs/{job.id}"}, 202)

    @router.get("/kbs/{kb}/docs/{doc_id}")
    def document(request: Request, kb: str, doc_id: str, page: str = "1",
                 viewer: Viewer = Depends(pages.page(*STAFF))) -> Response:
        base = readable(request, viewer, kb)
        number = page_number(page)
        try:
            found = knowledge.chunks(pages.actor(request, viewer), kb, doc_id, offset=(number - 1) * PAGE_SIZE,
                                     limit=PAGE_SIZE)
        except (UnknownKnowledgeBase, DocumentNotFound) as exc:
            raise PageError(404, "error.no_document", str(exc)) from exc
        doc = catalog.get_document(doc_id)
        if doc is None:  # deleted meanwhile
            raise PageError(404, "error.no_document", doc_id)
        paging = Paging(page=number, size=PAGE_SIZE, total=found.total, base=f"/console/kbs/{kb}/docs/{quote(doc_id)}")
        t = pages.translator(request)
        notice = request.query_params.get("notice")
        job = request.query_params.get("job", "")[:64]
        return pages.render(request, "document.html", viewer, active="kbs", kb=base, doc=doc, chunks=found.chunks,
                            chunk_total=found.total, paging=paging, writable=may_write(viewer.principal, base),
                            versions=knowledge.versions(pages.actor(request, viewer), kb, doc_id),
                            notice=t(f"notice.{notice}", job=job) if notice in NOTICES else "")

    @router.post("/kbs/{kb}/docs/{doc_id}/status")
    def document_status(request: Request, kb: str, doc_id: str, disabled: str = Form(""),
                        viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        """Disable (kept, never retrieved) or enable a document, through the same use case as the API."""
        off = disabled == "true"
        try:
            knowledge.set_disabled(pages.actor(request, viewer), kb, doc_id, off)
        except (UnknownKnowledgeBase, DocumentNotFound) as exc:
            raise PageError(404, "error.no_document", str(exc)) from exc
        except Forbidden as exc:
            raise PageError(403, "error.forbidden", str(exc)) from exc
        notice = "document_disabled" if off else "document_enabled"
        return RedirectResponse(with_query(f"/console/kbs/{kb}/docs/{quote(doc_id)}", notice=notice), 303)

    @router.post("/kbs/{kb}/docs/{doc_id}/replace")
    def replace_document(request: Request, kb: str, doc_id: str, file: Annotated[UploadFile, File()],
                         version: Annotated[str, Form(max_length=50)] = "",
                         viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        """A new version of the document: the file is ingested under the same id (a job, like an upload)."""
        try:
            doc, _ = knowledge.document(pages.actor(request, viewer), kb, doc_id)
            meta = DocumentMeta(id=doc.id, title=doc.title, version=version or None, owner=doc.owner,
                                effective_date=doc.effective_date, tags=",".join(doc.tags), url=doc.url)
            job = knowledge.upload(pages.actor(request, viewer), kb, [Upload(file.filename or doc.source, file.file)],
                                   meta, max_bytes=max_upload_bytes)
        except (UnknownKnowledgeBase, DocumentNotFound) as exc:
            raise PageError(404, "error.no_document", str(exc)) from exc
        except Forbidden as exc:
            raise PageError(403, "error.forbidden", str(exc)) from exc
        except (AssistantError, ValueError) as exc:
            raise PageError(400, "error.not_done", str(exc)) from exc
        return RedirectResponse(with_query(f"/console/kbs/{kb}/docs/{quote(doc_id)}", notice="replace_queued",
                                           job=job.id), 303)

    @router.post("/kbs/{kb}/docs/{doc_id}/delete")
    def delete_document(request: Request, kb: str, doc_id: str,
                        viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        try:
            knowledge.delete_document(pages.actor(request, viewer), kb, doc_id)
        except (UnknownKnowledgeBase, DocumentNotFound) as exc:
            raise PageError(404, "error.no_document", str(exc)) from exc
        except Forbidden as exc:
            raise PageError(403, "error.forbidden", str(exc)) from exc
        return RedirectResponse(with_query(f"/console/kbs/{kb}", notice="document_deleted"), 303)

    return router
