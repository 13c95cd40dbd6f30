"""Credentials written into the ERP URL (user:password@, a token in the query string) are sent, and
appear in no error, log line or repr the client makes, whatever the ERP answers."""

from __future__ import annotations

import base64
import logging

import pytest

from assistant.erp.client import (
    ERPAuthError,
    ERPBadResponse,
    ERPClient,
    ERPError,
    ERPUnavailable,
)

USER, PASSWORD, QUERY_TOKEN, BEARER = "erp-robot", "Pa55-w0rd-7f3c", "q-token-91ab", "bearer-5e6d"
SECRETS = (USER, PASSWORD, QUERY_TOKEN, BEARER)


def url_with_credentials(base: str) -> str:
    return base.replace("http://", f"http://{USER}:{PASSWORD}@") + f"/erp?api_token={QUERY_TOKEN}"


def everything_said(error: BaseException, client: ERPClient, caplog) -> str:
    """The error, its causes, the client's repr and every log record, as one text to search."""
    parts = [str(error), repr(error), repr(client)]
    cause = error.__cause__ or error.__context__
    while cause is not None:
        parts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    parts += [r.getMessage() for r in caplog.records] + [caplog.text]
    return "\n".join(parts)


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_url_credentials_are_still_sent_as_basic_auth_and_query_parameters(bad_erp, seed_orders):
    bad_erp.order = seed_orders["orders"][0]
    order = ERPClient(url_with_credentials(bad_erp.url), None).get_order("20240521-8892")
    assert order.order_no == "20240521-8892"
    assert bad_erp.seen_paths == [f"/erp/api/v1/orders/20240521-8892?api_token={QUERY_TOKEN}"]
    assert bad_erp.seen_auth == ["Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"boom", ERPUnavailable),
        (401, b"", ERPAuthError),
        (400, f"bad request to /erp?api_token={QUERY_TOKEN} by {USER}:{PASSWORD} ({BEARER})".encode(), ERPBadResponse),
    ],
)
def test_no_error_or_log_line_shows_a_credential_whatever_the_erp_answers(bad_erp, all_logs, status, body, expected):
    bad_erp.failures, bad_erp.status, bad_erp.failure_body = 10, status, body
    client = ERPClient(url_with_credentials(bad_erp.url), BEARER, retries=1, backoff=0)
    with pytest.raises(expected) as caught:
        client.get_order("20240521-8892")
    said = everything_said(caught.value, client, all_logs)
    assert [s for s in SECRETS if s in said] == []
    port = bad_erp.url.rsplit(":", 1)[1]
    assert f"ERP at http://127.0.0.1:{port}/erp?api_token=***" in str(caught.value)


def test_an_order_in_an_unexpected_shape_echoing_credentials_is_reported_without_them(bad_erp, all_logs):
    bad_erp.order = {"order_no": f"{USER}:{PASSWORD}@{QUERY_TOKEN}"}
    client = ERPClient(url_with_credentials(bad_erp.url), BEARER)
    with pytest.raises(ERPBadResponse) as caught:
        client.get_order("20240521-8892")
    assert "unexpected shape" in str(caught.value)
    assert [s for s in SECRETS if s in everything_said(caught.value, client, all_logs)] == []


def test_an_unreachable_erp_is_named_without_its_credentials(all_logs):
    client = ERPClient(f"http://{USER}:{PASSWORD}@127.0.0.1:9/?api_token={QUERY_TOKEN}", BEARER, retries=1, backoff=0)
    with pytest.raises(ERPUnavailable) as caught:
        client.get_order("20240521-8892")
    assert "http://127.0.0.1:9?api_token=***" in str(caught.value)
    assert [s for s in SECRETS if s in everything_said(caught.value, client, all_logs)] == []


def test_a_url_that_cannot_be_read_is_reported_without_quoting_it(all_logs):
    client = ERPClient(f"http://{USER}:{PASSWORD}@erp.internal:port{QUERY_TOKEN}/", BEARER)
    with pytest.raises(ERPError, match="ASSISTANT_ERP__BASE_URL is not an http") as caught:
        client.list_orders("C10086")
    assert [s for s in SECRETS if s in everything_said(caught.value, client, all_logs)] == []
