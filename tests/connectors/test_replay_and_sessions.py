"""The sandbox's replay of pasted chat payloads (answered for real, sent nowhere) and the live sessions
board's API, on the real app with a real knowledge base."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from connectors.crypto import dingtalk_robot_sign
from connectors.settings import ConnectorSettings, DingTalkBot
from tests.conftest import as_admin, make_settings

SECRET = "ding-secret-replay"
SOP = "# 电子发票开具规范\n版本：V3.2\n## 一、开票时间\n确认收货后48小时内开具电子发票，发送至下单邮箱。\n".encode()


def feishu_event(text: str, *, chat_type: str = "group", mention: bool = True) -> dict:
    mentions = [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "客服助手"}] if mention else []
    return {
        "schema": "2.0",
        "header": {"event_id": "ev-replay-1", "event_type": "im.message.receive_v1", "token": "t", "app_id": "cli_x"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_li"}, "sender_type": "user"},
            "message": {"message_id": "om_1", "chat_id": "oc_sales", "chat_type": chat_type, "message_type": "text",
                        "content": json.dumps({"text": text}, ensure_ascii=False), "mentions": mentions},
        },
    }


@pytest.fixture
def app(tmp_path, platform):
    bot = DingTalkBot(name="support", app_key="dingkey", app_secret=SECRET, api_base=platform.base,
                      webhook_hosts=[platform.netloc])
    settings = make_settings(tmp_path / "data", models={"reranker": "none"}).model_copy(
        update={"connectors": ConnectorSettings(dingtalk=[bot])})
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


def test_a_pasted_feishu_event_is_answered_and_laid_out_but_nothing_is_sent(app):
    client, platform = app
    result = client.post("/v1/replay", json={"platform": "feishu", "payload": feishu_event("@_user_1 电子发票多久开？")})
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["decision"] == "answered"
    assert body["message"]["text"] == "电子发票多久开？" and body["message"]["chat_id"] == "oc_sales"
    assert body["answer"]["citations"][0]["doc_id"] == "e-invoice"
    assert "48小时" in body["replies"][0]["text"] and body["replies"][0]["payload"]["msg_type"] in ("text", "interactive")
    assert platform.requests == []  # no token fetched, no reply posted
    entry = client.get("/v1/audit", params={"channel": "replay:feishu"}).json()["entries"][0]
    assert entry["principal_id"] == "im:feishu:oc_sales:ou_li" and entry["question"] == "电子发票多久开？"


def test_the_group_policy_applies_to_replays_and_bad_payloads_are_named(app):
    client, _ = app
    ignored = client.post("/v1/replay", json={"platform": "feishu",
                                              "payload": feishu_event("电子发票多久开？", mention=False)}).json()
    assert ignored["decision"] == "ignored" and ignored["answer"] is None
    dingtalk = {"msgtype": "text", "text": {"content": "发票多久开"}, "msgId": "m1", "conversationType": "1",
                "conversationId": "cid1", "senderStaffId": "wang"}
    answered = client.post("/v1/replay", json={"platform": "dingtalk", "payload": json.dumps(dingtalk)}).json()
    assert answered["decision"] == "answered" and answered["replies"][0]["payload"]["msgtype"] == "markdown"
    bad = client.post("/v1/replay", json={"platform": "dingtalk", "payload": {"msgtype": "text"}})
    assert bad.status_code == 400 and "msgId" in bad.json()["detail"]
    assert client.post("/v1/replay", json={"platform": "line", "payload": {}}).status_code == 400
    xml = "<xml><FromUserName>zhang</FromUserName><MsgType>text</MsgType><Content>发票多久开</Content><MsgId>9</MsgId></xml>"
    wecom = client.post("/v1/replay", json={"platform": "wecom", "payload": xml}).json()
    assert wecom["decision"] == "answered" and wecom["message"]["sender_id"] == "zhang"


def test_sessions_gather_a_principals_turns_from_every_door(app):
    client, platform = app
    for question in ("电子发票多久开？", "那发到哪里？"):
        assert client.post("/v1/ask", json={"question": question, "conversation_id": "desk-1"}).status_code == 200
    now = int(time.time() * 1000)
    body = {"msgtype": "text", "text": {"content": "你们的股票代码是多少"}, "msgId": "m-s1", "conversationType": "1",
            "conversationId": "cid-s", "senderStaffId": "zhao", "sessionWebhook": f"{platform.base}/robot/send",
            "sessionWebhookExpiredTime": now + 3_600_000}
    ts = str(now)
    client.post("/callbacks/dingtalk/support", content=json.dumps(body).encode(),
                headers={"timestamp": ts, "sign": dingtalk_robot_sign(ts, SECRET)})
    platform.wait_for("/robot/send", timeout=60)
    for _ in range(100):  # the audit row is written once the gateway worker has answered
        sessions = client.get("/v1/sessions").json()["sessions"]
        if len(sessions) >= 2:
            break
        time.sleep(0.05)
    by_channel = {s["channel"]: s for s in sessions}
    assert by_channel["api"]["turns"] == 2 and by_channel["api"]["last_question"] == "那发到哪里？"
    assert by_channel["im:dingtalk"]["refused"] == 1 and by_channel["im:dingtalk"]["user_id"] == "zhao"
    assert [s["channel"] for s in client.get("/v1/sessions", params={"refused": True}).json()["sessions"]] == [
        "im:dingtalk"]
    assert client.get("/v1/sessions", params={"platform": "dingtalk"}).json()["sessions"][0]["chat_id"] == "cid-s"
    detail = client.get(f"/v1/sessions/{by_channel['api']['id']}").json()
    assert [t["question"] for t in detail["turns"]] == ["电子发票多久开？", "那发到哪里？"]
    assert "发票" in (detail["turns"][1]["rewritten"] or "")
    # a knowledge manager sees their department's sessions, not another department's
    for name in ("finance", "sales"):
        client.post("/v1/departments", json={"name": name})
    keys = {name: client.post("/v1/keys", json={"role": "agent", "departments": [name], "name": name}).json()["key"]
            for name in ("finance", "sales")}
    for name, key in keys.items():
        client.post("/v1/ask", json={"question": f"{name} 电子发票多久开？"}, headers={"Authorization": f"Bearer {key}"})
    manager = client.post("/v1/keys", json={"role": "knowledge_manager", "departments": ["finance"]}).json()["key"]
    seen = client.get("/v1/sessions", headers={"Authorization": f"Bearer {manager}"}).json()["sessions"]
    assert any(s["departments"] == ["finance"] for s in seen)
    assert not any("sales" in s["departments"] for s in seen)
    sales_session = next(s for s in client.get("/v1/sessions").json()["sessions"] if s["departments"] == ["sales"])
    assert client.get(f"/v1/sessions/{sales_session['id']}", headers={"Authorization": f"Bearer {manager}"}).status_code == 404
    agent = client.post("/v1/keys", json={"role": "agent"}).json()["key"]
    assert client.get("/v1/sessions", headers={"Authorization": f"Bearer {agent}"}).status_code == 403
