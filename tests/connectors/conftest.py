"""Fakes for the connector tests: a platform's reply API, our callback server, a scripted responder.

Everything listens on 127.0.0.1 and is a real server: the code under test speaks real HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from assistant.domain import Answer, Citation, Trace
from connectors.app import Connectors, add_routes, build_connectors
from connectors.base import IncomingMessage
from connectors.settings import ConnectorSettings


@pytest.fixture(autouse=True)
def loopback_without_proxies(monkeypatch):
    """Whatever proxies the environment sets, 127.0.0.1 is reached directly."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# ---------------------------------------------------------------- a platform's HTTP API


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Route = Callable[[Recorded], tuple[int, Any]]


class FakePlatform:
    """A real HTTP server on 127.0.0.1 that records every request and answers from ``routes``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.routes: dict[str, Route] = {}
        self._cond = threading.Condition()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                record = Recorded(
                    self.command, url.path, dict(parse_qsl(url.query)),
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                )
                route = platform.routes.get(url.path)
                status, body = route(record) if route else (200, {"errcode": 0, "errmsg": "ok", "code": 0})
                with platform._cond:  # recorded before the caller sees the response
                    platform.requests.append(record)
                    platform._cond.notify_all()
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        class Listener(ThreadingHTTPServer):
            request_queue_size = 128  # bursts of replies on a loaded machine must not be refused

        self.server = Listener(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def to(self, path: str) -> list[Recorded]:
        with self._cond:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        """The requests to ``path`` once there are ``count`` of them (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([r for r in self.requests if r.path == path]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} request(s) to {path}, got {[r.path for r in self.requests]}"
                self._cond.wait(left)
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform():
    fake = FakePlatform()
    yield fake
    fake.close()


# ---------------------------------------------------------------- our side


def make_answer(question: str, text: str = "", citations: list[Citation] | None = None, refused: bool = False) -> Answer:
    return Answer(question=question, answer=text, refused=refused, citations=citations or [], trace=Trace(question=question))


INVOICE_CITATION = Citation(
    n=1, doc_id="e-invoice", chunk_id="c1", title="电子发票开具规范", section="电子发票开具规范 > 一、开票时间",
    page=2, url="https://kb.example.com/e-invoice", version="V3", quote="确认收货后48小时内开具电子发票。",
)


@dataclass
class FakeResponder:
    """Answers every question with a canned cited answer; can be slow, or fail on one question."""

    delay_s: float = 0.0
    fail_on: str | None = None
    seen: list[IncomingMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, message: IncomingMessage) -> Answer:
        with self.lock:
            self.seen.append(message)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on and self.fail_on in message.text:
            raise RuntimeError("the pipeline broke on this one")
        return make_answer(message.text, "确认收货后48小时内开具电子发票 [1]。", [INVOICE_CITATION])


class Server:
    """A uvicorn server on 127.0.0.1 in a thread."""

    def __init__(self, app: FastAPI):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@dataclass
class Bot:
    """Our connectors app served on 127.0.0.1, with an HTTP client pointed at it."""

    base: str
    connectors: Connectors
    client: httpx.Client

    def idle(self, timeout: float = 10.0) -> None:
        assert self.connectors.gateway.wait_idle(timeout), "the gateway did not finish answering"


@pytest.fixture
def serve_bot():
    """``serve_bot(settings, responder) -> Bot``; everything is stopped after the test."""
    started: list[tuple[Server, Connectors, httpx.Client]] = []

    def serve(settings: ConnectorSettings, responder: Any) -> Bot:
        connectors = build_connectors(settings, responder)
        app = FastAPI()
        add_routes(app, connectors)
        connectors.start()
        server = Server(app)
        client = httpx.Client(base_url=server.base, trust_env=False, timeout=10)
        started.append((server, connectors, client))
        return Bot(server.base, connectors, client)

    yield serve
    for server, connectors, client in started:
        client.close()
        connectors.stop()
        server.close()


@pytest.fixture
def responder() -> FakeResponder:
    return FakeResponder()


@pytest.fixture(name="make_answer")
def make_answer_fixture():
    return make_answer


@pytest.fixture
def citation() -> Citation:
    return INVOICE_CITATION


# ---------------------------------------------------------------- a platform's websocket


class FakeSocket:
    """A websocket server on 127.0.0.1 (its own thread and loop) running ``handler(ws)`` per connection."""

    def __init__(self, handler: Callable[[Any], Any]):
        import asyncio

        from websockets.asyncio.server import serve

        self.loop = asyncio.new_event_loop()
        self.received: list[Any] = []
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                ready.set()
                await self._stop.wait()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        assert ready.wait(5), "fake websocket server did not start"
        self.url = f"ws://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)


@pytest.fixture
def fake_socket():
    servers: list[FakeSocket] = []

    def start(handler: Callable[[Any], Any]) -> FakeSocket:
        servers.append(FakeSocket(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until
