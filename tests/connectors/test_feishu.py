"""Feishu: encrypted, signed event callbacks and the lark-oapi long connection in; message replies out."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from connectors.crypto import FeishuCipher
from connectors.settings import ConnectorSettings, FeishuBot

KEY, TOKEN, APP_ID, APP_SECRET = "feishu-encrypt-key", "feishu-verification-token", "cli_test", "feishu-app-secret"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
REPLY_PATH = "/open-apis/im/v1/messages/om_msg1/reply"
EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)


def settings_for(platform, **overrides) -> ConnectorSettings:
    values = {"name": "support", "app_id": APP_ID, "app_secret": APP_SECRET, "encrypt_key": KEY,
              "verification_token": TOKEN, "api_base": platform.base, **overrides}
    return ConnectorSettings(feishu=[FeishuBot(**values)])


@pytest.fixture
def feishu_api(platform):
    tokens = iter(["t-first", "t-second", "t-third"])
    platform.routes[TOKEN_PATH] = lambda r: (200, {"code": 0, "msg": "ok", "tenant_access_token": next(tokens), "expire": 7200})
    platform.routes[REPLY_PATH] = lambda r: (200, {"code": 0, "msg": "success", "data": {"message_id": "om_reply"}})
    return platform


def message_event(event_id="ev-1", *, chat_type="group", text="@_user_1 电子发票怎么开？", token=TOKEN, app_id=APP_ID) -> dict:
    return {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                   "token": token, "app_id": app_id, "tenant_key": "tenant1"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_asker", "union_id": "on_asker", "user_id": "u_asker"},
                       "sender_type": "user", "tenant_key": "tenant1"},
            "message": {"message_id": "om_msg1", "root_id": "", "parent_id": "", "create_time": "1700000000000",
                        "chat_id": "oc_chat1", "chat_type": chat_type, "message_type": "text",
                        "content": json.dumps({"text": text}, ensure_ascii=False),
                        "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "客服助手", "tenant_key": "tenant1"}]},
        },
    }


def post(bot, payload: dict | bytes, *, key=KEY, sign_key=None, timestamp=None, encrypt=True, headers=True):
    if isinstance(payload, bytes):
        body = payload
    elif encrypt:
        body = json.dumps({"encrypt": FeishuCipher(key).encrypt(json.dumps(payload, ensure_ascii=False))}).encode()
    else:
        body = json.dumps(payload).encode()
    ts, nonce = str(timestamp if timestamp is not None else int(time.time())), "nonce-42"
    signed = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
              "X-Lark-Signature": FeishuCipher(sign_key or key).signature(ts, nonce, body)}
    return bot.client.post("/callbacks/feishu/support", content=body, headers=signed if headers else {})


def test_encrypted_signed_group_message_is_acked_and_answered_with_a_card_mentioning_the_asker(serve_bot, feishu_api, responder):
    bot = serve_bot(settings_for(feishu_api), responder)
    response = post(bot, message_event())
    assert response.status_code == 200 and response.json() == {"msg": "success"}
    [reply] = feishu_api.wait_for(REPLY_PATH)
    assert reply.headers["authorization"] == "Bearer t-first"
    card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "<at id=ou_asker></at> " + EXPECTED_TEXT}]}}
    assert reply.json == {"msg_type": "interactive", "content": json.dumps(card, ensure_ascii=False),
                          "uuid": hashlib.sha1(b"om_msg1").hexdigest()[:32] + "-1"}
    assert feishu_api.to(TOKEN_PATH)[0].json == {"app_id": APP_ID, "app_secret": APP_SECRET}
    assert responder.seen[0].text == "电子发票怎么开？"  # the mention placeholder is removed
    assert responder.seen[0].conversation_id == "feishu:oc_chat1:ou_asker"


def test_a_refusal_in_a_private_chat_is_a_plain_text_reply(serve_bot, feishu_api, responder, make_answer):
    responder.respond = lambda message: make_answer(message.text, "", refused=True)
    bot = serve_bot(settings_for(feishu_api), responder)
    post(bot, message_event(chat_type="p2p", text="你们的股票代码是多少"))
    [reply] = feishu_api.wait_for(REPLY_PATH)
    assert reply.json["msg_type"] == "text"
    assert json.loads(reply.json["content"])["text"].startswith("抱歉，知识库里没有找到")


def test_url_verification_is_answered_with_the_challenge_plain_and_encrypted(serve_bot, platform, responder):
    challenge = {"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"}
    encrypted_bot = serve_bot(settings_for(platform), responder)
    response = post(encrypted_bot, challenge, headers=False)
    assert response.status_code == 200 and response.json() == {"challenge": "ajls384kdjx98XX"}

    plain_bot = serve_bot(settings_for(platform, encrypt_key=None), responder)
    response = post(plain_bot, challenge, encrypt=False, headers=False)
    assert response.json() == {"challenge": "ajls384kdjx98XX"}
    wrong = dict(challenge, token="guess")
    assert post(plain_bot, wrong, encrypt=False, headers=False).status_code == 403


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged_signature", 401),
        ("wrong_key", 401),
        ("stale_timestamp", 401),
        ("plain_body_while_encryption_is_on", 401),
        ("missing_signature", 401),
        ("wrong_verification_token", 403),
        ("another_app", 403),
        ("malformed_body", 400),
        ("malformed_event", 400),
    ],
)
def test_forged_feishu_callbacks_are_rejected_and_nothing_is_answered_or_stored(serve_bot, platform, responder, case, status):
    bot = serve_bot(settings_for(platform), responder)
    event = message_event()
    response = {
        "forged_signature": lambda: post(bot, event, sign_key="not-the-key"),
        "wrong_key": lambda: post(bot, event, key="not-the-key"),
        "stale_timestamp": lambda: post(bot, event, timestamp=int(time.time()) - 7200),
        "plain_body_while_encryption_is_on": lambda: post(bot, event, encrypt=False),
        "missing_signature": lambda: post(bot, event, headers=False),
        "wrong_verification_token": lambda: post(bot, message_event(token="guess")),
        "another_app": lambda: post(bot, message_event(app_id="cli_other")),
        "malformed_body": lambda: post(bot, b"{not json"),
        "malformed_event": lambda: post(bot, {**event, "event": {"message": {"chat_id": "oc_1"}}}),
    }[case]()
    assert response.status_code == status, response.text
    assert KEY not in response.text and TOKEN not in response.text
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0


def test_the_same_event_delivered_three_times_is_answered_once(serve_bot, feishu_api, responder):
    bot = serve_bot(settings_for(feishu_api), responder)
    for _ in range(3):
        assert post(bot, message_event("ev-same")).status_code == 200
    bot.idle()
    assert len(feishu_api.to(REPLY_PATH)) == 1 and len(responder.seen) == 1


def test_a_slow_answer_never_delays_the_acknowledgement_past_three_seconds(serve_bot, feishu_api, responder):
    responder.delay_s = 3.5
    bot = serve_bot(settings_for(feishu_api), responder)
    started = time.monotonic()
    assert post(bot, message_event()).status_code == 200
    assert time.monotonic() - started < 0.5
    feishu_api.wait_for(REPLY_PATH, timeout=10)


def test_an_expired_tenant_token_is_refreshed_once_and_the_reply_retried(serve_bot, feishu_api, responder):
    calls = []

    def reply(record):
        calls.append(record.headers["authorization"])
        return (200, {"code": 99991663, "msg": "token invalid"}) if len(calls) == 1 else (200, {"code": 0})

    feishu_api.routes[REPLY_PATH] = reply
    bot = serve_bot(settings_for(feishu_api), responder)
    post(bot, message_event())
    feishu_api.wait_for(REPLY_PATH, count=2)
    bot.idle()
    assert calls == ["Bearer t-first", "Bearer t-second"] and bot.connectors.gateway.stats.answered == 1


def test_events_other_than_messages_are_acknowledged_and_ignored(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    event = message_event()
    event["header"]["event_type"] = "im.chat.member.bot.added_v1"
    assert post(bot, event).status_code == 200
    bot.idle()
    assert responder.seen == []


def test_long_connection_with_lark_oapi_receives_an_event_acks_it_and_replies(serve_bot, feishu_api, responder, fake_socket):
    from lark_oapi.ws.enum import FrameType
    from lark_oapi.ws.pb.pbbp2_pb2 import Frame

    responses: list[dict] = []

    def frame_for(event: dict, message_id: str) -> bytes:
        frame = Frame()
        frame.SeqID, frame.LogID, frame.service, frame.method = 1, 1, 7, FrameType.DATA.value
        for key, value in {"type": "event", "message_id": message_id, "trace_id": "trace1", "sum": "1", "seq": "0"}.items():
            header = frame.headers.add()
            header.key, header.value = key, value
        frame.payload = json.dumps(event, ensure_ascii=False).encode()
        return frame.SerializeToString()

    async def endpoint(ws):
        await ws.send(frame_for(message_event("ev-ws"), "m-1"))
        await ws.send(frame_for(message_event("ev-ws"), "m-2"))  # redelivered: answered once
        while len(responses) < 2:
            answer = Frame()
            answer.ParseFromString(await ws.recv())
            if answer.method == FrameType.DATA.value:  # the client also pings
                responses.append(json.loads(answer.payload))
        await ws.wait_closed()

    server = fake_socket(endpoint)
    feishu_api.routes["/callback/ws/endpoint"] = lambda r: (200, {"code": 0, "msg": "ok", "data": {
        "URL": f"{server.url}/ws?device_id=dev1&service_id=7",
        "ClientConfig": {"ReconnectCount": 1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120}}})
    bot = serve_bot(settings_for(feishu_api, mode="websocket", encrypt_key=None, verification_token=None), responder)

    [opened] = feishu_api.wait_for("/callback/ws/endpoint", timeout=20)
    assert opened.json == {"AppID": APP_ID, "AppSecret": APP_SECRET}
    [reply] = feishu_api.wait_for(REPLY_PATH, timeout=20)
    assert json.loads(reply.json["content"])["body"]["elements"][0]["content"].startswith("<at id=ou_asker></at> ")
    bot.idle()
    assert len(responder.seen) == 1
    assert [r["code"] for r in responses] == [200, 200]


def test_with_the_bot_open_id_set_a_group_message_mentioning_someone_else_is_not_answered(serve_bot, feishu_api, responder):
    bot = serve_bot(settings_for(feishu_api, bot_open_id="ou_bot"), responder)
    to_someone_else = message_event("ev-other")
    to_someone_else["event"]["message"]["mentions"][0]["id"]["open_id"] = "ou_colleague"
    post(bot, to_someone_else)
    post(bot, message_event("ev-bot"))
    bot.idle()
    assert [m.message_id for m in responder.seen] == ["ev-bot"]


def test_a_rate_limited_reply_is_retried_once_after_a_pause(serve_bot, feishu_api, responder, monkeypatch):
    import connectors.feishu

    monkeypatch.setattr(connectors.feishu, "RATE_LIMIT_PAUSE_S", 0.01)
    answers = iter([(200, {"code": 230020, "msg": "rate limited"}), (200, {"code": 0})])
    feishu_api.routes[REPLY_PATH] = lambda r: next(answers)
    bot = serve_bot(settings_for(feishu_api), responder)
    post(bot, message_event())
    feishu_api.wait_for(REPLY_PATH, count=2)
    bot.idle()
    assert bot.connectors.gateway.stats.answered == 1


def _event_with(where: str, value) -> dict:
    """A message event with the field at the dotted path ``where`` set to ``value``."""
    event = message_event()
    *parents, last = where.split(".")
    node = event
    for key in parents:
        node = node[key]
    node[last] = value
    return event


@pytest.mark.parametrize(
    ("where", "value", "problem"),
    [
        ("event.sender", "ou_asker", "field 'event.sender' is not an object"),
        ("event.sender.sender_id", ["ou_asker"], "field 'event.sender.sender_id' is not an object"),
        ("event.sender.sender_id.open_id", 7, "field 'event.sender.sender_id.open_id' is not a string"),
        ("event.message.content", {"text": "电子发票怎么开？"}, "field 'event.message.content' is not a string"),
        ("event.message.content", "[1, 2]", "message.content is not a JSON object"),
        ("event.message.content", "{not json", "message.content is not JSON"),
        ("event.message.mentions", 1, "field 'event.message.mentions' is not a list"),
        ("event.message.chat_id", 12345, "field 'event.message.chat_id' is missing or not a string"),
        ("event", [], "field 'event' is not an object"),
    ],
)
def test_a_signed_event_with_a_field_of_the_wrong_type_is_a_400_naming_it_and_changes_nothing(
    serve_bot, platform, responder, where, value, problem
):
    bot = serve_bot(settings_for(platform), responder)
    response = post(bot, _event_with(where, value))
    assert (response.status_code, response.json()) == (400, {"error": f"feishu: {problem}"})
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0


def test_a_signed_post_message_whose_content_is_not_a_post_is_a_400(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    event = _event_with("event.message.message_type", "post")
    event["event"]["message"]["content"] = json.dumps({"zh_cn": "电子发票怎么开？"}, ensure_ascii=False)
    response = post(bot, event)
    assert (response.status_code, response.json()) == (400, {"error": "feishu: message.content is not a post (lines of elements)"})
    bot.idle()
    assert responder.seen == [] and len(bot.connectors.gateway.dedupe) == 0
