"""One structured record per HTTP request, counted in the metrics and logged as a JSON line.

The record says which front door (api, openai, im, console, ops), the method, the route's path
template (``/v1/kbs/{kb}/documents``, never the filled-in path or its query string, which may hold a
signature or a name), the status, the duration, the request id (the one ``X-Request-ID`` carries, the
trace and the audit row too) and the kind of principal. It never holds a header, a body, a question
or a client address. ``assistant serve`` writes every log record as JSON (:func:`use_json_logs`);
embedded in tests the records go wherever logging is set up (caplog).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.app.metrics import HTTP_REQUESTS, HTTP_SECONDS, Metrics

REQUESTS_LOGGER = "assistant.requests"
log = logging.getLogger(REQUESTS_LOGGER)

_DOORS = (("/v1/chat/completions", "openai"), ("/v1/models", "openai"), ("/callbacks/", "im"),
          ("/console", "console"), ("/healthz", "ops"), ("/readyz", "ops"), ("/metrics", "ops"))


def front_door(path: str) -> str:
    for prefix, door in _DOORS:
        if path.startswith(prefix):
            return door
    return "console" if path == "/" else "api"


class RequestLog:
    """ASGI middleware (inside ``RequestIds``, so the id is set): count, time and log each request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before it answers

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(no route)"
        door = front_door(scope["path"])
        state = scope.get("state") or {}
        principal = state.get("principal")
        kind = getattr(principal, "kind", None) or "none"
        self.metrics.count(HTTP_REQUESTS, door=door, method=scope["method"], status=str(status), principal=kind)
        self.metrics.observe(HTTP_SECONDS, seconds, door=door)
        fields = {"event": "http_request", "method": scope["method"], "path": template, "status": status,
                  "duration_ms": round(seconds * 1000, 1), "request_id": state.get("request_id", ""),
                  "door": door, "principal": kind}
        log.info("%s %s %d %.1f ms", scope["method"], template, status, seconds * 1000, extra={"fields": fields})


class JsonLines(logging.Formatter):
    """Each record as one JSON object: time, level, logger, message, the record's ``fields``, and the
    exception's type and text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json_logs(level: int = logging.INFO) -> None:
    """Every log record of the server (ours, uvicorn's errors) as one JSON line on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
