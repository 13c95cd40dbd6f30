"""A round-robin HTTP proxy in front of the API replicas of a local cluster (``assistant cluster up``).

Each request goes to the next replica in turn. A replica that refuses the connection (stopped,
restarting) is skipped and the request goes to the one after it: nothing was sent to the refusing one,
so no request is ever sent twice. A replica that fails mid-request is not retried (a POST may have
been applied); the client gets 502. The replica that answered is named in the ``x-upstream`` header.

This is for trying a cluster on one machine and for its tests; in production put nginx, HAProxy or
the platform's load balancer in front of the replicas (see the deployment guide in the README).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn

# Hop-by-hop headers (RFC 9110 7.6.1) and those httpx sets itself.
_DROPPED_REQUEST = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "te",
                    "proxy-connection"}
_DROPPED_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "upgrade"}


class RoundRobin:
    """An ASGI app forwarding every HTTP request to ``upstreams`` in turn."""

    def __init__(self, upstreams: Sequence[str], *, timeout: float = 300.0):
        if not upstreams:
            raise ValueError("a balancer needs at least one upstream")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.timeout = timeout
        self.sent = {u: 0 for u in self.upstreams}  # requests answered by each upstream
        self._turn = itertools.count()
        self._client: httpx.AsyncClient | None = None

    def _client_now(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=limits, trust_env=False)
        return self._client

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                   if k.decode("latin-1").lower() not in _DROPPED_REQUEST]
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        client = self._client_now()
        first = next(self._turn)
        for i in range(len(self.upstreams)):
            upstream = self.upstreams[(first + i) % len(self.upstreams)]
            request = client.build_request(scope["method"], upstream + target, headers=headers, content=bytes(body))
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError:
                continue  # refused: nothing reached it, so the next replica may take the request
            except httpx.HTTPError as exc:
                await _plain(send, 502, f"replica {upstream} failed: {type(exc).__name__}")
                return
            try:
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                                        if k.lower() not in _DROPPED_RESPONSE] + [(b"x-upstream", upstream.encode())]})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                self.sent[upstream] += 1
            finally:
                await response.aclose()
            return
        await _plain(send, 502, "no replica accepted the connection")

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _plain(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BalancerThread:
    """An ASGI app (the balancer) served by uvicorn on a thread of this process (no signal handlers:
    the caller owns them)."""

    def __init__(self, app: Any, host: str, port: int):
        self.app = app
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="balancer", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the balancer could not listen on {self.url} (port taken?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
