"""A demo ERP service: the order API the assistant's ERP client talks to, over SQLite.

    GET /api/v1/orders/{order_no}               -> Order          (404 when unknown)
    GET /api/v1/customers/{customer_id}/orders  -> [OrderSummary]
    GET /healthz

Every /api route needs ``Authorization: Bearer <token>``. Run it with ``assistant erp-demo``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request

from assistant.app.erp_demo.store import OrderStore
from assistant.erp.models import Order, OrderSummary

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def create_erp_app(store: OrderStore, token: str) -> FastAPI:
    """The demo ERP as an ASGI app over `store`, accepting only `token`."""
    if not token:
        raise ValueError("the demo ERP needs a token: set ASSISTANT_ERP_TOKEN")
    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    app = FastAPI(title="Demo ERP (优选生活商城)", version="1.0.0", description="Orders for the assistant demo.")
    app.state.store = store

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get(f"{API_PREFIX}/orders/{{order_no}}", response_model=Order, dependencies=[Depends(authorized)])
    def get_order(order_no: str) -> Order:
        order = store.get(order_no)
        if order is None:
            raise HTTPException(status_code=404, detail=f"order {order_no} not found")
        return order

    @app.get(
        f"{API_PREFIX}/customers/{{customer_id}}/orders",
        response_model=list[OrderSummary],
        dependencies=[Depends(authorized)],
    )
    def customer_orders(customer_id: str) -> list[OrderSummary]:
        return store.of_customer(customer_id)

    return app


def open_demo_store(data_dir: Path, seed_file: Path) -> OrderStore:
    """The demo's SQLite file in the data directory, (re)seeded from `seed_file`."""
    store = OrderStore(Path(data_dir) / "erp-demo.db")
    count = store.seed(seed_file)
    log.info("demo ERP: %d orders loaded from %s", count, seed_file)
    return store


class BackgroundServer:
    """Serves an ASGI app with uvicorn from a daemon thread (tests, notebooks): ``url = server.start()``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._server.run, name="background-asgi", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the background server did not start")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
