"""The ask / debug sandbox: a question over chosen knowledge bases, answered as the signed-in user
through ``Asking.ask`` (permission-checked, rate-limited, audited with the channel ``console``), shown
with its citations and the whole trace: rewrite, tool calls, each stage's hits with their scores,
evidence, refusal reason, timings and notes. Admins may also ask as a customer would be answered.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from assistant.access import Forbidden, may_read
from assistant.app.asking import Asking
from assistant.app.console.web import ANYONE, Pages, Viewer
from assistant.app.http_auth import request_id
from assistant.domain import Answer
from assistant.errors import RateLimited, UnknownKnowledgeBase

STAGES = ("bm25", "vector", "fused", "reranked")
MAX_QUESTION = 4000


def ask_router(pages: Pages, asking: Asking) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    services = pages.services

    def sandbox(request: Request, viewer: Viewer, *, question: str = "", chosen: list[str] | None = None,
                audience: str = "", answer: Answer | None = None, error: str = "", status: int = 200,
                notice: str = "") -> Response:
        kbs = [kb for kb in services.catalog.list_kbs() if may_read(viewer.principal, kb)]
        located = {}
        if answer is not None:  # where each traced chunk lives, to link its document page
            ids = {hit.chunk_id for hits in answer.trace.stages.values() for hit in hits}
            located = {cid: live.chunk for cid, live in services.catalog.resolve(ids).items()}
        return pages.render(request, "ask.html", viewer, status=status, active="ask", kbs=kbs, chosen=chosen or [],
                            question=question, audience=audience, answer=answer, error=error, stages=STAGES,
                            located=located, notice=notice)

    @router.get("/ask")
    def ask_page(request: Request, viewer: Viewer = Depends(pages.page(*ANYONE))) -> Response:
        notice = request.query_params.get("notice")  # after a thumb (pages_feedback.py)
        if notice in ("voted_up", "voted_down"):
            t = pages.translator(request)
            said = t(f"notice.{notice}", id=request.query_params.get("answer", "")[:20])
            return sandbox(request, viewer, notice=said)
        return sandbox(request, viewer)

    @router.post("/ask")
    def ask(request: Request, question: str = Form(""), kb: list[str] = Form([]), audience: str = Form(""),
            viewer: Viewer = Depends(pages.form(*ANYONE))) -> Response:
        t = pages.translator(request)
        question = question.strip()
        chosen = list(dict.fromkeys(kb))
        override = audience if viewer.principal.is_admin and audience in ("staff", "customer") else None
        kept = {"question": question, "chosen": chosen, "audience": override or ""}
        if not question or len(question) > MAX_QUESTION:
            return sandbox(request, viewer, **kept, error=t("ask.bad_question", max=MAX_QUESTION), status=400)
        try:
            answer = asking.ask(viewer.principal, question, channel="console", kbs=chosen or None,
                                request_id=request_id(request), audience=override)
        except UnknownKnowledgeBase as exc:
            return sandbox(request, viewer, **kept, error=t("error.no_kb") + f": {exc.kb}", status=404)
        except RateLimited as exc:
            return sandbox(request, viewer, **kept, error=f"{t('ask.rate_limited')} ({exc})", status=429)
        except Forbidden as exc:
            return sandbox(request, viewer, **kept, error=str(exc), status=403)
        return sandbox(request, viewer, **kept, answer=answer)

    return router
