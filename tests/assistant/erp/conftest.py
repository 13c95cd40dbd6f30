"""Servers the ERP tests talk to: the real demo ERP, and a misbehaving one (500s, stalls), both on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.app.erp_demo.service import (
    BackgroundServer,
    create_erp_app,
    open_demo_store,
)

SEED = Path(__file__).resolve().parents[3] / "data" / "erp" / "orders.json"
TOKEN = "test-token-8f2a"


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is what the stall tests are about


@pytest.fixture(scope="session")
def erp_token() -> str:
    return TOKEN


@pytest.fixture(scope="session")
def seed_orders() -> dict:
    return json.loads(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_erp(tmp_path_factory):
    """The demo ERP service with the shipped seed, on a free port."""
    store = open_demo_store(tmp_path_factory.mktemp("erp"), SEED)
    server = BackgroundServer(create_erp_app(store, TOKEN))
    yield server.start()
    server.stop()
    store.close()


class BadERP:
    """An ERP that fails `failures` times with `status` (or stalls `stall` seconds), then serves `order`."""

    def __init__(self):
        self.failures = 0
        self.status = 500
        self.stall = 0.0
        self.hits = 0
        self.order: dict = {}
        self.failure_body = b"boom"
        self.seen_auth: list[str] = []
        self.seen_paths: list[str] = []  # with their query strings


@pytest.fixture
def bad_erp():
    state = BadERP()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            state.hits += 1
            state.seen_auth.append(self.headers.get("authorization", ""))
            state.seen_paths.append(self.path)
            if state.stall:
                time.sleep(state.stall)
            if state.failures > 0:
                state.failures -= 1
                self.send_response(state.status)
                self.end_headers()
                self.wfile.write(state.failure_body)
                return
            body = json.dumps(state.order).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
