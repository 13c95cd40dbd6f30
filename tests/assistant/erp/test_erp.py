"""The ERP client against the demo ERP and against an ERP that fails: named errors, retries, no token leaks."""

from __future__ import annotations

import time

import pytest

from assistant.app.erp_demo.store import OrderStore, SeedError
from assistant.erp.client import (
    ERPAuthError,
    ERPBadResponse,
    ERPClient,
    ERPTimeout,
    ERPUnavailable,
    OrderNotFound,
)


def test_demo_erp_serves_the_seed_order_with_its_invoice(demo_erp, erp_token):
    order = ERPClient(demo_erp, erp_token).get_order("20240521-8892")
    assert order.status == "shipped"
    assert order.invoice.status == "pending" and order.invoice.type == "电子普通发票"
    assert order.shipping.carrier == "顺丰速运" and order.items


def test_demo_erp_lists_a_customers_orders_newest_first(demo_erp, erp_token):
    orders = ERPClient(demo_erp, erp_token).list_orders("C10086")
    assert [o.order_no for o in orders] == ["20240521-8892", "20240518-3310"]


def test_unknown_order_is_order_not_found(demo_erp, erp_token):
    with pytest.raises(OrderNotFound, match="20991231-0000"):
        ERPClient(demo_erp, erp_token).get_order("20991231-0000")


def test_wrong_token_is_refused_and_the_error_never_shows_a_token(demo_erp, erp_token):
    client = ERPClient(demo_erp, "wrong-secret-123")
    with pytest.raises(ERPAuthError) as caught:
        client.get_order("20240521-8892")
    assert "wrong-secret-123" not in str(caught.value)
    assert "wrong-secret-123" not in repr(client) and erp_token not in repr(ERPClient(demo_erp, erp_token))


def test_server_errors_are_retried_then_succeed(bad_erp, seed_orders):
    bad_erp.failures, bad_erp.order = 2, seed_orders["orders"][0]
    order = ERPClient(bad_erp.url, "t", retries=2, backoff=0).get_order("20240521-8892")
    assert order.order_no == "20240521-8892" and bad_erp.hits == 3


def test_persistent_server_errors_end_in_erp_unavailable(bad_erp):
    bad_erp.failures = 10
    with pytest.raises(ERPUnavailable, match="server error 500 after 3 attempts"):
        ERPClient(bad_erp.url, "t", retries=2, backoff=0).get_order("20240521-8892")
    assert bad_erp.hits == 3


def test_client_errors_are_not_retried(bad_erp):
    bad_erp.failures, bad_erp.status = 1, 400
    with pytest.raises(ERPBadResponse):
        ERPClient(bad_erp.url, "t", retries=2, backoff=0).get_order("20240521-8892")
    assert bad_erp.hits == 1


def test_a_stalling_erp_times_out_quickly(bad_erp):
    bad_erp.stall = 1.0
    started = time.perf_counter()
    with pytest.raises(ERPTimeout, match="no answer within 0.2 s"):
        ERPClient(bad_erp.url, "t", timeout=0.2, retries=1, backoff=0).get_order("20240521-8892")
    assert time.perf_counter() - started < 0.9


def test_unreachable_erp_says_what_to_check():
    with pytest.raises(ERPUnavailable, match="ASSISTANT_ERP__BASE_URL"):
        ERPClient("http://127.0.0.1:9", "t", retries=0).get_order("20240521-8892")


def test_order_numbers_cannot_escape_the_orders_path(bad_erp):
    bad_erp.order = {"nothing": "here"}
    with pytest.raises(ERPBadResponse):
        ERPClient(bad_erp.url, "t").get_order("../customers/C1/orders")
    assert bad_erp.hits == 1


def test_token_is_sent_as_a_bearer_header(bad_erp, seed_orders):
    bad_erp.order = seed_orders["orders"][0]
    ERPClient(bad_erp.url, "s3cret").get_order("20240521-8892")
    assert bad_erp.seen_auth == ["Bearer s3cret"]


def test_reseeding_resets_orders_and_a_bad_seed_names_the_file(tmp_path):
    store = OrderStore(tmp_path / "erp.db")
    bad = tmp_path / "orders.json"
    bad.write_text('{"orders": [{"order_no": 1}]}', encoding="utf-8")
    with pytest.raises(SeedError, match="orders.json"):
        store.seed(bad)
    with pytest.raises(SeedError, match="not found"):
        store.seed(tmp_path / "missing.json")
    store.close()
