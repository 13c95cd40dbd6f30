"""/metrics on the real app after a mix of traffic: API and OpenAI-endpoint asks answered by a real
(fake-served) LLM chain with a failing backend, an order looked up in the demo ERP over HTTP, a
refusal, an FAQ hit, signed DingTalk callbacks (a duplicate, a rate-limited one, a reply that fails)
and an upload ingested by the worker. Every family is there, with the counts the other side saw.

Also: who may scrape (loopback, or the metrics token), the request id shared by the response, the
trace, the audit row and the request log, and the Grafana dashboard reading only metrics that exist.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from assistant.app.api import create_app
from assistant.app.erp_demo.service import BackgroundServer, create_erp_app, open_demo_store
from assistant.app.request_log import JsonLines
from assistant.domain import AuditQuery
from connectors.crypto import dingtalk_robot_sign
from connectors.settings import ConnectorSettings, DingTalkBot
from tests.assistant.answer.conftest import start_fake
from tests.conftest import as_admin, make_settings
from tests.connectors.conftest import FakePlatform

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "data" / "erp" / "orders.json"
ERP_TOKEN = "erp-token-metrics"
DING_SECRET = "ding-secret-metrics"
METRICS_TOKEN = "scrape-token-7d41"
LOCAL = ("127.0.0.1", 40123)
REMOTE = ("203.0.113.9", 40123)
SOP = """# 电子发票开具规范
版本：V3.2
## 一、开票时间
确认收货后48小时内开具电子发票，发送至下单邮箱。
## 二、发票抬头
个人或单位抬头均可，提交后不可修改。
""".encode()
FAQ = "question,answer\n会员积分多久过期？,会员积分自获得之日起12个月内有效，过期自动清零。\n".encode()
ORDER = "20240521-8892"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The app with two LLM backends (the first one broken), the demo ERP, a fake DingTalk, a
    knowledge base of an SOP and an FAQ sheet (and a file that fails), all real servers on 127.0.0.1."""
    flaky, flaky_server = start_fake()
    good, good_server = start_fake()
    flaky.mode = "fail"
    store = open_demo_store(tmp_path_factory.mktemp("erp"), SEED)
    erp_server = BackgroundServer(create_erp_app(store, ERP_TOKEN))
    erp = erp_server.start()
    platform = FakePlatform()
    platform.routes["/robot/broken"] = lambda r: (500, {"errcode": 500, "errmsg": "down"})
    bot = DingTalkBot(name="support", app_key="dingkey", app_secret=DING_SECRET, api_base=platform.base,
                      webhook_hosts=[platform.netloc])
    settings = make_settings(
        tmp_path_factory.mktemp("metrics"), models={"reranker": "none"},
        llm={"backends": [{"name": "flaky", "base_url": flaky.url}, {"name": "good", "base_url": good.url}],
             "tool_routing": False, "breaker": {"cooldown_seconds": 3600}},  # open breakers stay open here
        erp={"base_url": erp, "token": ERP_TOKEN},
    ).model_copy(update={"connectors": ConnectorSettings(dingtalk=[bot], gateway={"user_rate": 1}),
                         "metrics_token": SecretStr(METRICS_TOKEN)})
    app = create_app(settings)
    with TestClient(app, client=LOCAL) as client:
        as_admin(client, settings)
        assert client.post("/v1/kbs", json={"name": "support"}).status_code == 201
        files = [("files", ("e-invoice.md", SOP)), ("files", ("points-faq.csv", FAQ)),
                 ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf"))]
        job = client.post("/v1/kbs/support/documents", files=files).json()
        for _ in range(600):
            finished = client.get(job["status_url"]).json()
            if finished["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        yield {"app": app, "client": client, "settings": settings, "flaky": flaky, "good": good,
               "platform": platform, "job": finished}
    platform.close()
    erp_server.stop()
    store.close()
    for server in (flaky_server, good_server):
        server.shutdown()
        server.server_close()


def ding(client, text: str, sender: str, msg_id: str, webhook_path: str = "/robot/send", base: str = "") -> int:
    """One signed 1:1 DingTalk callback; returns the HTTP status of the acknowledgement."""
    now = int(time.time() * 1000)
    body = {"msgtype": "text", "text": {"content": text}, "msgId": msg_id, "conversationType": "1",
            "conversationId": f"cid-{sender}", "senderId": f"$:{sender}", "senderStaffId": sender,
            "senderNick": sender, "sessionWebhook": f"{base}{webhook_path}?m={msg_id}",
            "sessionWebhookExpiredTime": now + 3_600_000}
    ts = str(now)
    response = client.post("/callbacks/dingtalk/support", content=json.dumps(body, ensure_ascii=False).encode(),
                           headers={"timestamp": ts, "sign": dingtalk_robot_sign(ts, DING_SECRET)})
    return response.status_code


def scrape(client) -> dict[str, dict[tuple, float]]:
    """Every sample of a /metrics scrape: name -> {sorted label items: value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for key, v in samples.get(name, {}).items() if set(labels.items()) <= set(key))


@pytest.fixture(scope="module")
def traffic(world):
    """The mix of traffic, run once; returns the scrape after it."""
    client, platform, good = world["client"], world["platform"], world["good"]
    agent = {"Authorization": "Bearer " + client.post("/v1/keys", json={"role": "agent"}).json()["key"]}
    asked = [client.post("/v1/ask", json={"question": "电子发票什么时候开？"}, headers=agent),  # flaky fails, good answers
             client.post("/v1/ask", json={"question": f"订单{ORDER}到哪了？"}),  # the ERP, then good
             client.post("/v1/ask", json={"question": "你们公司的股票代码是多少？"}),  # refused, no model
             client.post("/v1/ask", json={"question": "发票", "kb": "nope"})]  # 404
    chat = client.post("/v1/chat/completions", headers=agent,
                       json={"messages": [{"role": "user", "content": "发票抬头可以改吗？"}]})
    assert [r.status_code for r in asked] == [200, 200, 200, 404] and chat.status_code == 200
    assert asked[2].json()["refused"] is True
    good.mode = "fail"  # the last backend fails too: the extractive answer, from the FAQ sheet
    faq = client.post("/v1/ask", json={"question": "会员积分多久过期？"}).json()
    assert not faq["refused"] and faq["trace"]["faq_match"] is not None

    base = platform.base
    statuses = [ding(client, "电子发票什么时候开？", "zhang", "m-1", base=base),
                ding(client, "电子发票什么时候开？", "zhang", "m-1", base=base),  # redelivered: a duplicate
                ding(client, "发票抬头能改吗？", "zhang", "m-2", base=base),  # over the limit: told so
                ding(client, "还有问题", "zhang", "m-3", base=base),  # over the limit, already told: quiet
                ding(client, "发票抬头能改吗？", "li-si", "m-4", "/robot/broken", base=base)]  # the reply fails
    assert statuses == [200] * 5
    platform.wait_for("/robot/send", 2)
    assert world["app"].state.connectors.gateway.wait_idle(30)
    return {"samples": scrape(client), "asked": asked, "chat": chat}


def test_every_family_is_scraped_with_the_counts_the_traffic_made(world, traffic):
    s, flaky, good = traffic["samples"], world["flaky"], world["good"]
    # Asks by front door, refusals, FAQ hits; HTTP requests by door, status and principal kind.
    assert value(s, "assistant_asks_total", door="api") == 4
    assert value(s, "assistant_asks_total", door="openai") == 1
    assert value(s, "assistant_asks_total", door="im") == 2
    assert value(s, "assistant_refusals_total", door="api", reason="weak_evidence") == 1
    assert value(s, "assistant_faq_hits_total", door="api") == 1
    assert value(s, "assistant_ask_duration_seconds_count") == 7
    assert value(s, "assistant_http_requests_total", door="api", method="POST", status="404", principal="api_key") == 1
    assert value(s, "assistant_http_requests_total", door="openai", status="200", principal="api_key") == 1
    assert value(s, "assistant_http_requests_total", door="im", status="200", principal="none") == 5
    assert value(s, "assistant_http_request_duration_seconds_count", door="api") >= 6

    # Every stage of the pipeline has a histogram; rewrite only runs in a conversation, so it may be absent.
    for stage in ("tools", "embed", "bm25", "vector", "fuse", "rerank", "answer"):
        assert value(s, "assistant_ask_stage_duration_seconds_count", stage=stage) == 7, stage
    assert value(s, "assistant_ask_stage_duration_seconds_bucket", stage="answer", le="+Inf") == 7

    # LLM backends: what the fake servers saw and reported, the breakers, the switches.
    assert value(s, "assistant_llm_requests_total", backend="flaky", outcome="unavailable") == len(flaky.requests) == 1
    assert value(s, "assistant_llm_requests_total", backend="good", outcome="ok") == len(good.usage) == 3
    assert value(s, "assistant_llm_requests_total", backend="good", outcome="unavailable") == 1
    assert value(s, "assistant_llm_request_duration_seconds_count", backend="good") == len(good.requests) == 4
    assert value(s, "assistant_llm_tokens_total", backend="good", kind="prompt") == sum(u["prompt_tokens"] for u in good.usage)
    assert value(s, "assistant_llm_tokens_total", backend="good", kind="completion") == sum(
        u["completion_tokens"] for u in good.usage)
    assert value(s, "assistant_llm_breaker_state", backend="flaky", state="open") == 1
    assert value(s, "assistant_llm_breaker_state", backend="good", state="open") == 1
    assert value(s, "assistant_llm_breaker_opened_total", backend="flaky") == 1
    assert value(s, "assistant_answer_backend_switches_total", source="flaky", target="good") == 1
    assert value(s, "assistant_answer_backend_switches_total", source="good", target="extractive") == 1
    assert value(s, "assistant_answer_backend_attempts_total", backend="good", outcome="answered") == 3
    assert value(s, "assistant_answer_backend_attempts_total", backend="flaky", outcome="skipped") == 5
    assert value(s, "assistant_answer_backend_attempts_total", backend="good", outcome="skipped") == 2

    # The ERP, over HTTP.
    assert value(s, "assistant_erp_requests_total", operation="get_order", outcome="ok") == 1
    assert value(s, "assistant_erp_request_duration_seconds_count", operation="get_order") == 1

    # The IM gateway: received (all admissions), duplicates, rate limited, answered, reply errors, time to reply.
    assert value(s, "assistant_im_messages_total", platform="dingtalk") == 5
    assert value(s, "assistant_im_messages_total", admission="queued") == 2
    assert value(s, "assistant_im_messages_total", admission="duplicate") == 1
    assert value(s, "assistant_im_messages_total", admission="rate_limited") == 1
    assert value(s, "assistant_im_messages_total", admission="suppressed") == 1
    assert value(s, "assistant_im_replies_total", platform="dingtalk", outcome="answered") == 2  # answer + notice
    assert value(s, "assistant_im_replies_total", platform="dingtalk", outcome="failed") == 1
    assert value(s, "assistant_im_reply_duration_seconds_count", platform="dingtalk") == 2
    assert value(s, "assistant_im_queue_depth") == 0

    # Ingestion: files by result, chunks, jobs, the queue; index sizes per knowledge base.
    files = world["job"]["files"]
    assert value(s, "assistant_ingest_files_total", status="added") == 2
    assert value(s, "assistant_ingest_files_total", status="failed") == 1
    assert value(s, "assistant_ingest_chunks_total") == sum(f["chunks"] or 0 for f in files if f["status"] == "added")
    assert value(s, "assistant_ingest_jobs_total", status="done") == 1
    assert value(s, "assistant_ingest_queue_depth", status="queued") == 0
    services = world["app"].state.services
    assert value(s, "assistant_index_chunks", kb="support") == services.catalog.chunk_counts()["support"]
    assert value(s, "assistant_index_documents", kb="support") == 2


def test_the_old_counters_read_the_same_counts(world, traffic):
    client = world["client"]
    answering = client.get("/healthz").json()["answering"]
    assert answering["switches"] == {"flaky->good": 1, "good->extractive": 1}
    assert answering["counts"]["answered:good"] == 3 and answering["backends"]["flaky"]["state"] == "open"
    gateway = client.get("/v1/connectors").json()["gateway"]
    assert gateway == {"received": 5, "duplicates": 1, "ignored": 0, "rate_limited": 2, "overloaded": 0,
                       "answered": 2, "failed": 1}


def test_no_label_carries_a_person_a_chat_or_a_question(traffic):
    labels = {v for series in traffic["samples"].values() for key in series for _, v in key}
    for personal in ("zhang", "li-si", "cid-zhang", "m-1", ORDER, "电子发票什么时候开？", "会员积分多久过期？"):
        assert not any(personal in label for label in labels), personal


def test_metrics_need_loopback_or_the_token(world):
    app = world["app"]
    assert TestClient(app, client=("::1", 5000)).get("/metrics").status_code == 200
    remote = TestClient(app, client=REMOTE)
    assert remote.get("/metrics").status_code == 401
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    admin_key = world["client"].headers["Authorization"]  # an API key is not the metrics token
    assert remote.get("/metrics", headers={"Authorization": admin_key}).status_code == 401
    ok = remote.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200 and "assistant_asks_total" in ok.text


def test_the_request_id_is_in_the_response_the_trace_the_audit_row_and_the_request_log(world, caplog):
    client = world["client"]
    with caplog.at_level(logging.INFO, logger="assistant.requests"):
        response = client.post("/v1/ask", json={"question": "电子发票什么时候开？"}, headers={"X-Request-ID": "req-metrics-001"})
    assert response.headers["x-request-id"] == "req-metrics-001"
    assert response.json()["trace"]["request_id"] == "req-metrics-001"
    rows = world["app"].state.services.audit.query(AuditQuery(kind="question", limit=50))
    entry = next(e for e in rows if e.request_id == "req-metrics-001")
    assert entry.question == "电子发票什么时候开？"
    logged = [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "assistant.requests"]
    line = next(x for x in logged if x.get("request_id") == "req-metrics-001")
    assert {k: line[k] for k in ("method", "path", "status", "door", "principal")} == {
        "method": "POST", "path": "/v1/ask", "status": 200, "door": "api", "principal": "api_key"}
    assert line["duration_ms"] > 0 and "电子发票" not in json.dumps(line, ensure_ascii=False)


def test_the_grafana_dashboard_reads_only_metrics_the_server_exposes(world, traffic):
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(exprs) >= 10
    exposed = set(traffic["samples"])
    for family in text_string_to_metric_families(world["client"].get("/metrics").text):
        exposed |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum",
                    f"{family.name}_count"}  # families with no series yet still have their names
    used = {name for expr in exprs for name in re.findall(r"\bassistant_[a-z0-9_]+", expr)}
    assert used and used <= exposed, used - exposed
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("request", "p95", "refusal", "breaker", "gateway", "ingest"):
        assert topic in titles, topic
