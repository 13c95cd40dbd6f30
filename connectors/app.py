"""Wiring: channels, gateway and long-connection runners built from the settings, and their routes.

``mount_connectors(app, settings, pipeline)`` is the one call the API's app factory makes. Callback URLs:

    GET|POST /callbacks/{platform}/{bot}     platform: dingtalk | feishu | wecom | wecom_bot
    GET      /v1/connectors                  configured bots and gateway counters (no secrets), for staff

(The OpenAI-compatible ``/v1/chat/completions`` is mounted by the app, which owns the API keys.)

A callback handler verifies, parses and submits, then returns the acknowledgement: it never
waits for the pipeline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from assistant.telemetry import Telemetry
from connectors.base import CallbackRequest, ChannelRegistry, ConnectorError, Reaction
from connectors.dingtalk import DingTalkChannel, DingTalkStreamRunner
from connectors.feishu import FeishuChannel, FeishuLongConnectionRunner
from connectors.gateway import Delivered, Gateway, PipelineResponder, Responder
from connectors.reactions import Reactions
from connectors.settings import ConnectorConfigError, ConnectorSettings, GatewaySettings
from connectors.wecom import WeComAppChannel
from connectors.wecom_bot import WeComBotChannel, WeComBotRunner, WeComBotSocketChannel

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 1 << 20  # platform callbacks are a few KB


class Runner(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class Connectors:
    """Everything the connectors run: started and stopped by the app's lifespan."""

    registry: ChannelRegistry
    gateway: Gateway
    http: httpx.Client
    runners: list[Runner] = field(default_factory=list)
    reactions: Reactions | None = None  # thumbs up / down on the bot's replies, to the app's feedback

    def start(self) -> None:
        self.gateway.start()
        for runner in self.runners:
            runner.start()

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        self.gateway.stop()
        if self.reactions is not None:
            self.reactions.stop()
        self.registry.close()
        self.http.close()

    def handle(self, platform: str, bot: str, request: CallbackRequest) -> Response:
        """One callback: verify and parse (raising on anything forged), submit, acknowledge."""
        try:
            channel = self.registry.get(platform, bot)
            result = channel.handle(request)
        except ConnectorError as exc:
            log.warning("refused callback: %s", exc)
            return _error(exc.status, str(exc))
        if result.message is not None:
            admission = self.gateway.submit(channel, result.message)
            channel.admitted(result.message, admission)
            if admission == "overloaded":
                return _error(503, f"{platform}: too many questions waiting; retry later")
        if result.reaction is not None and self.reactions is not None:
            self.reactions.submit(result.reaction)
        response = result.response
        return Response(response.body, response.status, media_type=response.content_type)


def build_connectors(
    settings: ConnectorSettings,
    responder: Responder,
    *,
    http: httpx.Client | None = None,
    delivered: Delivered | None = None,
    reacted: Callable[[Reaction], None] | None = None,
    telemetry: Telemetry | None = None,
) -> Connectors:
    """Channels for every configured bot, the gateway, and runners for the long-connection bots.

    ``delivered`` is told the platform's ids of the messages that carried each answer, ``reacted``
    gets the thumbs up and down people put on them (on a thread of its own); the gateway counts into
    ``telemetry`` (its own ``Tally`` when not given)."""
    # httpx logs request URLs at INFO, and WeCom puts secrets in query strings: keep it quiet.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    # Outbound calls honour HTTP(S)_PROXY / NO_PROXY: intranet hosts often reach the platforms through a proxy.
    http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
    registry = ChannelRegistry()
    gateway = Gateway(responder, settings.gateway, delivered=delivered, telemetry=telemetry, channels=registry.get,
                      **shared_stores(settings.gateway))
    reactions = Reactions(reacted) if reacted is not None else None
    runners: list[Runner] = []
    for config in settings.dingtalk:
        channel = registry.register(DingTalkChannel(config, http))
        if config.mode == "stream":
            runners.append(DingTalkStreamRunner(channel, gateway.submit))
    for config in settings.feishu:
        channel = registry.register(FeishuChannel(config, http))
        if config.mode == "websocket":
            runners.append(FeishuLongConnectionRunner(channel, gateway.submit,
                                                      reactions.submit if reactions is not None else None))
    if sum(c.mode == "websocket" for c in settings.feishu) > 1:
        names = ", ".join(repr(c.name) for c in settings.feishu if c.mode == "websocket")
        raise ConnectorConfigError(f"feishu bots {names}: mode: lark-oapi runs one long connection per process; "
                                   "use HTTP callbacks for the others")
    for config in settings.wecom_app:
        registry.register(WeComAppChannel(config, http))
    for config in settings.wecom_bot:
        if config.mode == "websocket":
            socket_channel = registry.register(WeComBotSocketChannel(config))
            runners.append(WeComBotRunner(socket_channel, gateway.submit))
        else:
            registry.register(WeComBotChannel(config, http))
    return Connectors(registry, gateway, http, runners, reactions)


def shared_stores(settings: GatewaySettings, *, prefix: str | None = None) -> dict[str, Any]:
    """Redis-backed dedupe, rate limits and queue when ``redis_url`` is set; else the gateway's
    in-process ones. ``prefix`` starts every key (default ``settings.redis_prefix``)."""
    if not settings.redis_url:
        return {}
    prefix = settings.redis_prefix if prefix is None else prefix
    from connectors.redis_store import RedisDedupeStore, RedisLane, RedisRateLimiter, redis_client

    client = redis_client(settings.redis_url)
    return {
        "dedupe": RedisDedupeStore(client, settings.dedupe_ttl_s, prefix=prefix + "dedupe:"),
        "limiter": RedisRateLimiter(client, prefix=prefix + "rate:"),
        "lane": RedisLane(client, settings.queue_size, lease_s=settings.lease_s, prefix=prefix + "im:"),
    }


def mount_connectors(
    app: FastAPI,
    settings: ConnectorSettings,
    pipeline: Callable[[], Any],
    *,
    responder: Responder | None = None,
    staff: Callable[[Request], bool] | None = None,
    delivered: Delivered | None = None,
    reacted: Callable[[Reaction], None] | None = None,
    telemetry: Telemetry | None = None,
) -> Connectors:
    """Build the connectors and add their routes to ``app``; ``pipeline`` returns the pipeline to ask
    (a getter: the pipeline is built after the models load). ``staff`` decides who may read the
    connectors' status (everyone when not given: for tests of the connectors alone)."""
    responder = responder or PipelineResponder(pipeline, settings.gateway)
    connectors = build_connectors(settings, responder, delivered=delivered, reacted=reacted, telemetry=telemetry)
    add_routes(app, connectors, staff or _anyone)
    app.state.connectors = connectors
    return connectors


def _anyone(request: Request) -> bool:
    return True


def add_routes(app: FastAPI, connectors: Connectors, staff: Callable[[Request], bool] = _anyone) -> None:
    async def callback(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_CALLBACK_BYTES:
            return _error(413, "callback body too large")
        body = await request.body()
        if len(body) > MAX_CALLBACK_BYTES:
            return _error(413, "callback body too large")
        incoming = CallbackRequest(
            method=request.method,
            query=dict(request.query_params),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=body,
        )
        return connectors.handle(request.path_params["platform"], request.path_params["bot"], incoming)

    async def status(request: Request) -> Response:
        if not staff(request):
            return _error(401, "sign in, or send Authorization: Bearer <API key> of a staff role")
        bots = [{"platform": c.platform, "bot": c.bot} for c in connectors.registry]
        body = {"bots": bots, "gateway": connectors.gateway.stats.as_dict()}
        return Response(json.dumps(body), media_type="application/json")

    # Plain Starlette routes: callbacks are hot and need no request models.
    app.add_route("/callbacks/{platform}/{bot}", callback, methods=["GET", "POST"], include_in_schema=False)
    app.add_route("/v1/connectors", status, methods=["GET"], include_in_schema=False)


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}, ensure_ascii=False), status, media_type="application/json")

