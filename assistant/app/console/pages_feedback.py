"""Feedback and gaps: thumbs up / down on the sandbox's answers, the queue of refused and voted-down
questions, and curating one into an FAQ entry (or dismissing it).

Every act goes through ``assistant/app/curation.py`` with the viewer as actor (channel ``console``),
the same use cases as ``POST /v1/feedback`` and ``/v1/gaps``: a knowledge manager sees only the gaps
of knowledge bases they may read and of askers of their departments, a gap they may not see is a 404
page, and the entry goes only into a knowledge base they may write.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant.access import Forbidden, may_write
from assistant.app.console.web import ANYONE, MANAGERS, PAGE_SIZE, PageError, Pages, Paging, Viewer, page_number, \
    with_query
from assistant.app.curation import AnswerNotFound, Curation, GapClosed, GapNotFound
from assistant.app.knowledge import DocumentNotFound
from assistant.errors import AssistantError, UnknownKnowledgeBase

STATUSES = ("open", "curated", "dismissed", "all")
REASONS = ("refused", "downvoted")
NOTICES = ("gap_curated", "gap_dismissed")
MAX_QUESTION, MAX_ANSWER = 1000, 20_000


def feedback_router(pages: Pages, curation: Curation) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    catalog = pages.services.catalog

    @router.post("/feedback")
    def vote(request: Request, answer_id: int = Form(...), vote: str = Form(""), comment: str = Form("", max_length=2000),
             viewer: Viewer = Depends(pages.form(*ANYONE))) -> Response:
        """A thumb on a sandbox answer; back to the sandbox, saying what became of it."""
        if vote not in ("up", "down"):
            raise PageError(400, "error.not_done", "vote: up or down")
        try:
            _, gap = curation.vote(pages.actor(request, viewer), answer_id, vote, comment)  # type: ignore[arg-type]
        except AnswerNotFound as exc:
            raise PageError(404, "error.not_done", str(exc)) from exc
        notice = "voted_down" if vote == "down" else "voted_up"
        return RedirectResponse(with_query("/console/ask", notice=notice, answer=answer_id,
                                           gap=gap.id if gap else None), 303)

    @router.get("/gaps")
    def gaps(request: Request, status: str = "open", reason: str = "", page: str = "1",
             viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        t = pages.translator(request)
        status = status if status in STATUSES else "open"
        reason = reason if reason in REASONS else ""
        number = page_number(page)
        found = curation.gaps(pages.actor(request, viewer), status=None if status == "all" else status,  # type: ignore[arg-type]
                              reason=reason or None, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)  # type: ignore[arg-type]
        paging = Paging(page=number, size=PAGE_SIZE, total=found.total,
                        base=with_query("/console/gaps", status=status, reason=reason))
        notice = request.query_params.get("notice")
        return pages.render(request, "gaps.html", viewer, active="gaps", gaps=found.gaps, paging=paging,
                            gap_status=status, reason=reason, statuses=STATUSES, reasons=REASONS,
                            notice=t(f"notice.{notice}") if notice in NOTICES else "")

    def gap_page(request: Request, viewer: Viewer, gap_id: int, *, status: int = 200, error: str = "",
                 form: dict | None = None) -> Response:
        try:
            gap = curation.gap(pages.actor(request, viewer), gap_id)
        except GapNotFound as exc:
            raise PageError(404, "error.no_gap", str(gap_id)) from exc
        kbs = [kb for kb in catalog.list_kbs() if may_write(viewer.principal, kb)]
        entry = catalog.get_document(gap.curated_doc) if gap.curated_doc else None
        chosen = (form or {}).get("kb") or next((k for k in gap.kbs if k in {kb.name for kb in kbs}), "")
        return pages.render(request, "gap.html", viewer, status=status, active="gaps", gap=gap, kbs=kbs,
                            entry=entry, error=error, chosen=chosen,
                            form=form or {"question": gap.question, "answer": ""})

    @router.get("/gaps/{gap_id}")
    def one_gap(request: Request, gap_id: int, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        return gap_page(request, viewer, gap_id)

    @router.post("/gaps/{gap_id}/curate")
    def curate(request: Request, gap_id: int, kb: str = Form(""), question: str = Form(""), answer: str = Form(""),
               viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        t = pages.translator(request)
        form = {"kb": kb, "question": question, "answer": answer}
        problem = _entry_problem(t, kb, question, answer)
        if problem:
            return gap_page(request, viewer, gap_id, status=400, error=problem, form=form)
        try:
            gap, _ = curation.curate(pages.actor(request, viewer), gap_id, kb, question.strip(), answer.strip())
        except GapNotFound as exc:
            raise PageError(404, "error.no_gap", str(gap_id)) from exc
        except (UnknownKnowledgeBase, DocumentNotFound, Forbidden) as exc:
            return gap_page(request, viewer, gap_id, status=403, error=f"{t('gaps.field.kb')}: {exc}", form=form)
        except GapClosed as exc:
            return gap_page(request, viewer, gap_id, status=409, error=str(exc), form=form)
        except (AssistantError, ValueError) as exc:
            return gap_page(request, viewer, gap_id, status=400, error=f"{t('error.not_done')}: {exc}", form=form)
        return RedirectResponse(with_query(f"/console/gaps/{gap.id}", notice="gap_curated"), 303)

    @router.post("/gaps/{gap_id}/dismiss")
    def dismiss(request: Request, gap_id: int, viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        try:
            curation.dismiss(pages.actor(request, viewer), gap_id)
        except GapNotFound as exc:
            raise PageError(404, "error.no_gap", str(gap_id)) from exc
        except GapClosed as exc:
            return gap_page(request, viewer, gap_id, status=409, error=str(exc))
        return RedirectResponse(with_query("/console/gaps", notice="gap_dismissed"), 303)

    return router


def _entry_problem(t, kb: str, question: str, answer: str) -> str:
    """The first field of a curated entry that cannot be saved, named, or ''."""
    if not kb:
        return f"{t('gaps.field.kb')}: {t('gaps.choose_kb')}"
    if not question.strip() or len(question) > MAX_QUESTION:
        return f"{t('gaps.field.question')}: {t('gaps.length', max=MAX_QUESTION)}"
    if not answer.strip() or len(answer) > MAX_ANSWER:
        return f"{t('gaps.field.answer')}: {t('gaps.length', max=MAX_ANSWER)}"
    return ""
