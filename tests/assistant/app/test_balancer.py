"""The local cluster's round-robin balancer, in front of real servers on 127.0.0.1."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from assistant.app.balancer import BalancerThread, RoundRobin
from assistant.app.cluster import free_port


def upstream(name: str) -> BalancerThread:
    """A tiny server (served like the balancer, on a thread) that says its name and echoes the request."""
    async def echo(request):
        return JSONResponse({"name": name, "method": request.method, "query": str(request.query_params),
                             "body": (await request.body()).decode(), "auth": request.headers.get("authorization")})

    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    server = BalancerThread(app, "127.0.0.1", free_port())
    server.start()
    return server


def test_requests_go_to_each_replica_in_turn_with_method_query_body_and_headers():
    a, b = upstream("a"), upstream("b")
    balancer = BalancerThread(RoundRobin([a.url, b.url]), "127.0.0.1", free_port())
    balancer.start()
    try:
        with httpx.Client(base_url=balancer.url, trust_env=False) as http:
            answers = [http.post("/v1/ask?x=1", content=b"hello", headers={"Authorization": "Bearer k"}) for _ in range(4)]
    finally:
        for server in (balancer, a, b):
            server.stop()
    assert [r.json()["name"] for r in answers] == ["a", "b", "a", "b"]
    assert answers[0].headers["x-upstream"] == a.url
    assert answers[0].json() == {"name": "a", "method": "POST", "query": "x=1", "body": "hello", "auth": "Bearer k"}


def test_a_replica_that_refuses_connections_is_skipped():
    live = upstream("live")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    balancer = BalancerThread(RoundRobin([dead, live.url]), "127.0.0.1", free_port())
    balancer.start()
    try:
        with httpx.Client(base_url=balancer.url, trust_env=False) as http:
            names = [http.get("/healthz").json()["name"] for _ in range(4)]
    finally:
        balancer.stop()
        live.stop()
    assert names == ["live"] * 4
