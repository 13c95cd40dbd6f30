"""Feedback from Feishu, on the real app: the bot's reply is remembered as carrying its answer, and a
thumbs up or down on it (a signed ``im.message.reaction.created_v1`` event) is the reacting person's
vote; a vote down opens a gap for the curation queue. The platform is a fake Feishu on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from connectors.crypto import FeishuCipher
from connectors.settings import ConnectorSettings, FeishuBot
from tests.conftest import as_admin, make_settings

KEY, TOKEN, APP_ID = "feishu-encrypt-key", "feishu-verification-token", "cli_feedback"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
REPLY_PATH = "/open-apis/im/v1/messages/om_question/reply"
SOP = "# 电子发票开具规范\n## 一、开票时间\n确认收货后48小时内开具电子发票，发送至下单邮箱。\n".encode()


@pytest.fixture
def app(tmp_path, platform):
    platform.routes[TOKEN_PATH] = lambda r: (200, {"code": 0, "tenant_access_token": "t-1", "expire": 7200})
    platform.routes[REPLY_PATH] = lambda r: (200, {"code": 0, "data": {"message_id": "om_answer"}})
    bot = FeishuBot(name="support", app_id=APP_ID, app_secret="secret", encrypt_key=KEY, verification_token=TOKEN,
                    api_base=platform.base)
    settings = make_settings(tmp_path / "data", models={"reranker": "none"}).model_copy(
        update={"connectors": ConnectorSettings(feishu=[bot])})
    application = create_app(settings)
    with TestClient(application) as client:
        as_admin(client, settings)
        assert client.post("/v1/kbs", json={"name": "support"}).status_code == 201
        job = client.post("/v1/kbs/support/documents", files=[("files", ("e-invoice.md", SOP))]).json()
        for _ in range(600):
            if client.get(job["status_url"]).json()["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        yield client


def event(event_type: str, event_id: str, body: dict) -> dict:
    return {"schema": "2.0", "header": {"event_id": event_id, "event_type": event_type, "token": TOKEN,
                                        "app_id": APP_ID, "create_time": "1700000000000"}, "event": body}


def question(text: str) -> dict:
    return event("im.message.receive_v1", "ev-question", {
        "sender": {"sender_id": {"open_id": "ou_asker"}, "sender_type": "user"},
        "message": {"message_id": "om_question", "chat_id": "oc_chat", "chat_type": "p2p", "message_type": "text",
                    "content": json.dumps({"text": text}, ensure_ascii=False)}})


def reaction(event_id: str, emoji: str, *, user: str = "ou_asker", message: str = "om_answer",
             operator: str = "user") -> dict:
    return event("im.message.reaction.created_v1", event_id, {
        "message_id": message, "reaction_type": {"emoji_type": emoji}, "operator_type": operator,
        "user_id": {"open_id": user, "union_id": f"on_{user}"}, "app_id": APP_ID, "action_time": "1700000001000"})


def post(client, payload: dict, *, sign_key: str = KEY):
    body = json.dumps({"encrypt": FeishuCipher(KEY).encrypt(json.dumps(payload, ensure_ascii=False))}).encode()
    ts, nonce = str(int(time.time())), "nonce-1"
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
               "X-Lark-Signature": FeishuCipher(sign_key).signature(ts, nonce, body)}
    return client.post("/callbacks/feishu/support", content=body, headers=headers)


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_thumbs_down_on_the_bots_reply_is_the_reacting_persons_vote_and_opens_a_gap(app, platform):
    services = app.app.state.services
    assert post(app, question("电子发票多久开具？")).status_code == 200
    platform.wait_for(REPLY_PATH)
    reply = eventually(lambda: services.feedback.reply("feishu", "om_answer"))
    [asked] = app.get("/v1/audit", params={"kind": "question"}).json()["entries"]
    assert reply.entry_id == asked["id"] and reply.chat_id == "oc_chat"

    assert post(app, reaction("ev-r1", "ThumbsDown")).status_code == 200
    [vote] = eventually(lambda: services.feedback.votes(reply.entry_id))
    assert (vote.principal_id, vote.vote, vote.channel) == ("im:feishu:oc_chat:ou_asker", "down", "im:feishu")
    gaps = app.get("/v1/gaps").json()["gaps"]
    assert [g["entry_id"] for g in gaps] == [reply.entry_id] and gaps[0]["question"] == "电子发票多久开具？"

    assert post(app, reaction("ev-r2", "THUMBSUP", user="ou_colleague")).status_code == 200
    assert post(app, reaction("ev-r3", "THUMBSUP")).status_code == 200  # the asker changes their mind
    votes = eventually(lambda: (v := services.feedback.votes(reply.entry_id)) and len(v) == 2
                       and all(x.vote == "up" for x in v) and v)
    assert {v.principal_id for v in votes} == {"im:feishu:oc_chat:ou_asker", "im:feishu:oc_chat:ou_colleague"}


def test_other_reactions_and_forged_ones_record_nothing(app, platform):
    services = app.app.state.services
    post(app, question("电子发票多久开具？"))
    platform.wait_for(REPLY_PATH)
    reply = eventually(lambda: services.feedback.reply("feishu", "om_answer"))
    assert post(app, reaction("ev-f1", "ThumbsDown"), sign_key="not-the-key").status_code == 401
    assert post(app, reaction("ev-f2", "SMILE")).status_code == 200  # not a vote
    assert post(app, reaction("ev-f3", "ThumbsDown", operator="app")).status_code == 200  # an app's, not a person's
    assert post(app, reaction("ev-f4", "ThumbsDown", message="om_someone_elses")).status_code == 200
    malformed = reaction("ev-f5", "ThumbsDown")
    del malformed["event"]["message_id"]
    assert post(app, malformed).status_code == 400
    time.sleep(0.3)  # reactions are recorded off the callback: give a wrong one the time to land
    assert services.feedback.votes(reply.entry_id) == []
    assert app.get("/v1/gaps").json()["total"] == 0
