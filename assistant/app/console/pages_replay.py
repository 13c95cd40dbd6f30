"""The sandbox's replay, for admins and knowledge managers: paste the raw callback a DingTalk robot, a
Feishu app (``im.message.receive_v1``), a WeCom app (the decrypted XML) or a WeCom AI bot sent, and
see what the bot would do with it: the gateway's decision (answered, or ignored by the group policy),
the message as parsed, the replies laid out as the platform would receive them, and the whole trace.

The answer is computed for real through the running gateway and recorded (channel ``replay:<platform>``)
but nothing is sent to the platform. ``routes_sessions.replay_as`` does it, the code of ``POST /v1/replay``:
a knowledge manager may replay only senders who read nothing the manager may not read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from assistant.app.console.pages_ask import STAGES
from assistant.app.console.web import MANAGERS, Pages, Viewer
from assistant.app.routes_sessions import NoSuchBot, replay_as
from connectors.base import ConnectorError
from connectors.replay import PLATFORMS, Replay

MAX_PAYLOAD = 200_000


def replay_router(pages: Pages, connectors: Callable[[], Any]) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    services = pages.services

    def bots() -> list[tuple[str, str]]:
        wired = connectors()
        return [(c.platform, c.bot) for c in wired.registry] if wired is not None else []

    def replay_page(request: Request, viewer: Viewer, *, platform: str = "feishu", bot: str = "", payload: str = "",
                    result: Replay | None = None, error: str = "", status: int = 200) -> Response:
        located = {}
        if result is not None and result.answer is not None:
            ids = {hit.chunk_id for hits in result.answer.trace.stages.values() for hit in hits}
            located = {cid: live.chunk for cid, live in services.catalog.resolve(ids).items()}
        replies = [{"text": r.get("text", ""), "payload": json.dumps(r["payload"], ensure_ascii=False, indent=2)
                    if "payload" in r else ""} for r in (result.replies if result else [])]
        return pages.render(request, "replay.html", viewer, status=status, active="replay", platforms=PLATFORMS,
                            bots=bots(), platform=platform, bot=bot, payload=payload, result=result, replies=replies,
                            answer=result.answer if result else None, stages=STAGES, located=located, error=error)

    @router.get("/ask/replay")
    def replay_form(request: Request, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        return replay_page(request, viewer)

    @router.post("/ask/replay")
    async def replay_payload(request: Request, platform: str = Form(""), bot: str = Form(""), payload: str = Form(""),
                             viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        t = pages.translator(request)
        kept = {"platform": platform, "bot": bot[:64], "payload": payload[:MAX_PAYLOAD]}
        if platform not in PLATFORMS:
            return replay_page(request, viewer, **kept, error=t("replay.bad_platform"), status=400)
        if not payload.strip() or len(payload) > MAX_PAYLOAD:
            return replay_page(request, viewer, **kept, error=t("replay.bad_payload", max=MAX_PAYLOAD), status=400)
        wired = connectors()
        if wired is None:
            return replay_page(request, viewer, **kept, error=t("replay.no_gateway"), status=503)
        try:
            result = await run_in_threadpool(replay_as, services, wired, viewer.principal, platform, payload,
                                             bot.strip() or None)
        except NoSuchBot as exc:
            return replay_page(request, viewer, **kept, error=f"{t('replay.failed')}: {exc}", status=404)
        except ConnectorError as exc:
            return replay_page(request, viewer, **kept, error=f"{t('replay.failed')}: {exc}", status=400)
        except PermissionError as exc:
            return replay_page(request, viewer, **kept, error=f"{t('replay.failed')}: {exc}", status=403)
        return replay_page(request, viewer, **kept, result=result)

    return router
