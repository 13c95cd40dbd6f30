"""Feedback on answers and the curation queue over HTTP.

    POST /v1/feedback                      {"answer_id", "vote": "up"|"down", "comment"}  who may see the answer
    GET  /v1/gaps?status=open&offset=&limit=                                            admins, knowledge managers
    POST /v1/gaps/{id}/dismiss
    POST /v1/gaps/{id}/curate              {"kb", "question", "answer"}: a curated FAQ entry, and the gap closed
    POST /v1/kbs/{kb}/curated              {"question", "answer"}: a curated entry without a gap
    PUT  /v1/kbs/{kb}/curated/{doc_id}     {"question", "answer"}: rewrite one (delete or disable it like any document)

An answer one may not see, a gap one may not curate and a knowledge base one may not read answer
404, as if they did not exist; writing a knowledge base without write access on it is 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from assistant.access import Forbidden
from assistant.app.audit_trail import Actor
from assistant.app.curation import AnswerNotFound, Curation, GapClosed, GapNotFound
from assistant.app.http_auth import Guard, request_id
from assistant.app.http_limits import ROW_ID_MAX, RowId
from assistant.app.knowledge import DocumentNotFound
from assistant.domain import Document, Gap, Principal, Vote
from assistant.errors import AssistantError, UnknownKnowledgeBase


class FeedbackBody(BaseModel):
    answer_id: int = Field(ge=1, le=ROW_ID_MAX, description="The answer's `answer_id` (its audit row).")
    vote: Vote
    comment: str = Field("", max_length=2000)


class CuratedEntry(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=20_000)


class GapCuration(CuratedEntry):
    kb: str = Field(description="The knowledge base the entry goes in (write access on it).")


def _entry_json(doc: Document) -> dict:
    return {"doc_id": doc.id, "kb": doc.kb, "title": doc.title, "curated_by": doc.curated_by,
            "disabled": doc.disabled}


def feedback_router(curation: Curation, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback and curation"])
    knowledge = curation.knowledge

    def actor(request: Request, principal: Principal = Depends(guard.principal)) -> Actor:
        return Actor(principal, "api", request_id(request))

    def curator(request: Request, principal: Principal = Depends(guard.role("admin", "knowledge_manager"))) -> Actor:
        return Actor(principal, "api", request_id(request))

    who, managing = Depends(actor), Depends(curator)

    @router.post("/feedback")
    def feedback(body: FeedbackBody, a: Actor = who) -> dict:
        with _refused():
            replaced, gap = curation.vote(a, body.answer_id, body.vote, body.comment)
        return {"answer_id": body.answer_id, "vote": body.vote, "replaced": replaced,
                "gap_id": gap.id if gap is not None else None}

    @router.get("/gaps")
    def gaps(
        status: Literal["open", "curated", "dismissed", "all"] = "open",
        offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        a: Actor = managing,
    ) -> dict:
        page = curation.gaps(a, status=None if status == "all" else status, offset=offset, limit=limit)
        return {"gaps": page.gaps, "total": page.total, "offset": offset, "limit": limit}

    @router.post("/gaps/{gap_id}/dismiss")
    def dismiss(gap_id: RowId, a: Actor = managing) -> Gap:
        with _refused():
            return curation.dismiss(a, gap_id)

    @router.post("/gaps/{gap_id}/curate", status_code=201)
    def curate_gap(gap_id: RowId, body: GapCuration, a: Actor = managing) -> dict:
        with _refused():
            gap, doc = curation.curate(a, gap_id, body.kb, body.question, body.answer)
        return {"gap": gap.model_dump(mode="json"), "entry": _entry_json(doc)}

    @router.post("/kbs/{kb}/curated", status_code=201)
    def curate(kb: str, body: CuratedEntry, a: Actor = who) -> dict:
        with _refused():
            return _entry_json(knowledge.curate(a, kb, body.question, body.answer))

    @router.put("/kbs/{kb}/curated/{doc_id}")
    def rewrite(kb: str, doc_id: str, body: CuratedEntry, a: Actor = who) -> dict:
        with _refused():
            return _entry_json(knowledge.curate(a, kb, body.question, body.answer, doc_id=doc_id))

    return router


@contextmanager
def _refused() -> Iterator[None]:
    """The use cases' errors as HTTP: not there (or not visible) 404, not allowed 403, closed 409, bad 400."""
    try:
        yield
    except (AnswerNotFound, GapNotFound, UnknownKnowledgeBase, DocumentNotFound) as exc:
        raise HTTPException(404, str(exc)) from exc
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from exc
    except GapClosed as exc:
        raise HTTPException(409, str(exc)) from exc
    except (AssistantError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
