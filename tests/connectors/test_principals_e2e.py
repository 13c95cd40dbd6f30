"""Principals end to end, on the real app: customers' orders in IM chats (bound, proved, limited),
and one audit log for the HTTP API, the OpenAI endpoint and IM callbacks, queried and exported.

The other side is played for real: a fake DingTalk on 127.0.0.1 (signed callbacks, session webhooks)
and the demo ERP service over HTTP."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from assistant.app.erp_demo.service import BackgroundServer, create_erp_app, open_demo_store
from connectors.crypto import dingtalk_robot_sign
from connectors.settings import ConnectorSettings, DingTalkBot
from tests.conftest import as_admin, make_settings

SECRET = "ding-secret-principals"
ERP_TOKEN = "erp-token-principals"
SEED = Path(__file__).resolve().parents[2] / "data" / "erp" / "orders.json"
SOP = """# 电子发票开具规范
版本：V3.2
## 一、开票时间
确认收货后48小时内开具电子发票，发送至下单邮箱。
## 二、物流查询
发货后可在订单详情页查看物流轨迹。
""".encode()
ORDER = "20240521-8892"  # customer C10086, phone ending 5678, shipped with SF1402337788115


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    store = open_demo_store(tmp_path_factory.mktemp("erp"), SEED)
    server = BackgroundServer(create_erp_app(store, ERP_TOKEN))
    yield server.start()
    server.stop()
    store.close()


@pytest.fixture
def app(tmp_path, platform, erp):
    bot = DingTalkBot(name="support", app_key="dingkey", app_secret=SECRET, api_base=platform.base,
                      webhook_hosts=[platform.netloc])
    settings = make_settings(tmp_path / "data", models={"reranker": "none"},
                             erp={"base_url": erp, "token": ERP_TOKEN}).model_copy(
        update={"connectors": ConnectorSettings(dingtalk=[bot], gateway={"user_rate": 100})})
    application = create_app(settings)
    with TestClient(application) as client:
        as_admin(client, settings)
        assert client.post("/v1/kbs", json={"name": "support"}).status_code == 201
        job = client.post("/v1/kbs/support/documents", files=[("files", ("e-invoice.md", SOP))]).json()
        for _ in range(600):
            if client.get(job["status_url"]).json()["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        yield client, platform


def im(client, platform, text: str, sender: str, n: int) -> str:
    """A signed 1:1 DingTalk message from ``sender``; returns the text of the bot's reply."""
    now = int(time.time() * 1000)
    body = {"msgtype": "text", "text": {"content": text}, "msgId": f"m-{sender}-{n}", "conversationType": "1",
            "conversationId": f"cid-{sender}", "senderId": f"$:{sender}", "senderStaffId": sender,
            "senderNick": sender, "sessionWebhook": f"{platform.base}/robot/send?s={sender}-{n}",
            "sessionWebhookExpiredTime": now + 3_600_000}
    ts = str(now)
    response = client.post("/callbacks/dingtalk/support", content=json.dumps(body).encode(),
                           headers={"timestamp": ts, "sign": dingtalk_robot_sign(ts, SECRET)})
    assert response.status_code == 200
    for _ in range(600):
        sent = [r for r in platform.to("/robot/send") if r.query.get("s") == f"{sender}-{n}"]
        if sent:
            return sent[0].json["markdown"]["text"]
        time.sleep(0.05)
    raise AssertionError(f"no reply to {sender}'s message {n}")


def test_in_customer_chats_an_order_is_shown_to_its_owner_only(app):
    client, platform = app
    assert client.post("/v1/customer-bindings", json={"platform": "dingtalk", "user_id": "zhang",
                                                      "customer_id": "C10086"}).status_code == 201
    own = im(client, platform, f"订单{ORDER}到哪了？", "zhang", 1)
    assert "SF1402337788115" in own or "运输" in own or "已发货" in own, own
    assert "13812345678" not in own  # a customer sees their own order masked all the same

    stranger = im(client, platform, f"订单{ORDER}到哪了？", "guesser", 1)
    assert "后四位" in stranger and "SF1402337788115" not in stranger
    unknown = im(client, platform, "订单20240521-0001到哪了？", "guesser", 2)
    assert unknown == stranger.replace(ORDER, "20240521-0001")  # an unknown order looks like anyone else's
    wrong = im(client, platform, "1234", "guesser", 3)
    assert "不匹配" in wrong and "SF1402337788115" not in wrong

    prover = im(client, platform, f"帮我查下订单{ORDER}", "owner-phone", 1)
    assert "后四位" in prover
    proved = im(client, platform, "后四位是5678", "owner-phone", 2)
    assert "SF1402337788115" in proved or "运输" in proved or "已发货" in proved, proved

    replies = []
    for n in range(4, 16, 2):  # guessing the four digits is limited per asker (5 tries an hour)
        im(client, platform, f"订单{ORDER}到哪了？", "guesser", n)
        replies.append(im(client, platform, "0000", "guesser", n + 1))
    assert ["次数过多" in r for r in replies] == [False] * 4 + [True] * 2
    assert "不匹配" in replies[0]


def test_one_audit_log_for_the_api_the_openai_endpoint_and_im_with_sources_and_tool_calls(app):
    client, platform = app
    agent_key = client.post("/v1/keys", json={"role": "agent", "name": "desk"}).json()["key"]
    agent = {"Authorization": f"Bearer {agent_key}"}
    api = client.post("/v1/ask", json={"question": "电子发票什么时候开？"}, headers=agent)
    assert api.status_code == 200 and api.json()["citations"]
    chat = client.post("/v1/chat/completions", headers=agent,
                       json={"messages": [{"role": "user", "content": f"订单{ORDER}的物流到哪了？"}]})
    assert chat.status_code == 200
    im(client, platform, "电子发票多久能开？", "li", 1)

    entries = client.get("/v1/audit", params={"kind": "question"}).json()["entries"]
    by_channel = {e["channel"]: e for e in entries}
    assert {"api", "openai", "im:dingtalk"} <= set(by_channel)
    assert by_channel["api"]["principal_id"].startswith("key:") and by_channel["api"]["role"] == "agent"
    assert by_channel["api"]["sources"][0]["doc_id"] == "e-invoice"
    assert by_channel["api"]["sources"][0]["version"] == "V3.2"
    assert by_channel["api"]["request_id"] == api.headers["x-request-id"]
    assert by_channel["openai"]["tool_calls"][0]["name"] == "lookup_order"
    assert "SF1402337788115" in by_channel["openai"]["tool_calls"][0]["result"]  # staff see it unmasked
    assert by_channel["im:dingtalk"]["principal_id"] == "im:dingtalk:cid-li:li"
    assert by_channel["im:dingtalk"]["kbs"] == ["support"] and by_channel["im:dingtalk"]["latency_ms"] > 0
    # filters: by KB, by document, by refusal
    assert {e["channel"] for e in client.get("/v1/audit", params={"doc": "e-invoice"}).json()["entries"]} >= {
        "api", "im:dingtalk"}
    assert all(e["refused"] for e in client.get("/v1/audit", params={"refused": True}).json()["entries"])

    lines = client.get("/v1/audit/export", params={"format": "jsonl", "kind": "question"}).text.splitlines()
    assert {json.loads(line)["channel"] for line in lines} >= {"api", "openai", "im:dingtalk"}
    exported = client.get("/v1/audit/export", params={"format": "csv", "kind": "question"})
    assert exported.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert {r["channel"] for r in rows} >= {"api", "openai", "im:dingtalk"}
    assert any("电子发票" in r["question"] for r in rows)
    # the log is append-only from the API's side, and reading it is for admins and knowledge managers
    assert client.delete("/v1/audit/1").status_code == 405
    assert client.get("/v1/audit", headers=agent).status_code == 403
    # administrative acts are there too: the key made above, the KB created, the upload, this export
    actions = {e["action"] for e in client.get("/v1/audit", params={"kind": "admin"}).json()["entries"]}
    assert {"key.create", "kb.create", "document.upload", "audit.export"} <= actions


def test_the_openai_user_field_is_a_label_and_callers_never_share_a_conversation(app):
    client, _ = app
    customer = {"Authorization": f"Bearer {client.post('/v1/keys', json={'role': 'customer'}).json()['key']}"}
    staff = {"Authorization": f"Bearer {client.post('/v1/keys', json={'role': 'agent'}).json()['key']}"}
    services = client.app.state.services
    services.settings.audience.groups["staff-chat"] = "staff"  # a staff chat id, as the old endpoint matched it

    def chat(headers, text, **extra):
        body = client.post("/v1/chat/completions", headers=headers,
                           json={"messages": [{"role": "user", "content": text}], **extra})
        assert body.status_code == 200
        return body.json()["choices"][0]["message"]["content"]

    # a customer key claiming a staff chat id as its `user` is still a customer: no order shown
    claimed = chat(customer, f"订单{ORDER}的收货电话是多少？", user="staff-chat")
    assert "13812345678" not in claimed and "SF1402337788115" not in claimed
    # two clients that omit `user` share nothing: the second's follow-up cannot reach the first's order
    first = chat(staff, f"订单{ORDER}的物流到哪了？")
    assert "SF1402337788115" in first
    follow = chat(customer, "那这个订单的物流到哪了？")
    assert ORDER not in follow and "SF1402337788115" not in follow
    # the same conversation id over /v1/ask is two conversations for two keys
    client.post("/v1/ask", headers=staff, json={"question": f"订单{ORDER}的物流到哪了？", "conversation_id": "c1"})
    other = client.post("/v1/ask", headers=customer, json={"question": "那这个订单呢？", "conversation_id": "c1"}).json()
    assert ORDER not in other["answer"] and ORDER not in (other["trace"]["rewritten"] or "")
