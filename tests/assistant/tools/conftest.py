"""A stand-in ERP client over the shipped seed orders (the HTTP client has its own tests in tests/assistant/erp)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from assistant.erp.client import ERPUnavailable, OrderNotFound
from assistant.erp.models import Order, OrderSummary

SEED = Path(__file__).resolve().parents[3] / "data" / "erp" / "orders.json"


class SeedERP:
    def __init__(self):
        raw = json.loads(SEED.read_text(encoding="utf-8"))
        self.orders = {o["order_no"]: Order.model_validate(o) for o in raw["orders"]}
        self.down = False
        self.calls: list[str] = []

    def get_order(self, order_no: str) -> Order:
        self.calls.append(order_no)
        if self.down:
            raise ERPUnavailable("ERP at http://127.0.0.1:1 is unavailable: server error 500 after 3 attempts")
        if order_no not in self.orders:
            raise OrderNotFound(order_no)
        return self.orders[order_no]

    def list_orders(self, customer_id: str) -> list[OrderSummary]:
        mine = [o for o in self.orders.values() if o.customer_id == customer_id]
        return [OrderSummary.model_validate(o.model_dump()) for o in sorted(mine, key=lambda o: o.placed_at, reverse=True)]


@pytest.fixture
def erp() -> SeedERP:
    return SeedERP()


@pytest.fixture
def clock():
    return lambda: datetime(2024, 5, 22, 10, 22)


@pytest.fixture(scope="session")
def demo_erp_client(tmp_path_factory):
    """A client of the real demo ERP service (the shipped seed orders), served on a free port."""
    from assistant.app.erp_demo.service import (
        BackgroundServer,
        create_erp_app,
        open_demo_store,
    )
    from assistant.erp.client import ERPClient

    store = open_demo_store(tmp_path_factory.mktemp("erp"), SEED)
    server = BackgroundServer(create_erp_app(store, "tools-test-token"))
    yield ERPClient(server.start(), "tools-test-token", retries=0)
    server.stop()
    store.close()
