"""DingTalk robot: signed HTTP callbacks and Stream mode in, session webhook (or OpenAPI) out."""

from __future__ import annotations

import json
import time

import pytest

from connectors.crypto import dingtalk_robot_sign
from connectors.settings import ConnectorSettings, DingTalkBot

SECRET = "ding-app-secret-for-tests"
EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)


def settings_for(platform, **overrides) -> ConnectorSettings:
    bot = DingTalkBot(name="support", app_key="dingappkey", app_secret=SECRET, robot_code="dingrobot",
                      api_base=platform.base, webhook_hosts=[platform.netloc], **overrides)
    return ConnectorSettings(dingtalk=[bot])


def robot_message(platform, msg_id="msgA1", *, group=True, text=" 电子发票怎么开？", webhook_ttl_ms=5_400_000) -> dict:
    now_ms = int(time.time() * 1000)
    return {
        "msgtype": "text", "text": {"content": text}, "msgId": msg_id, "createAt": now_ms,
        "conversationType": "2" if group else "1", "conversationId": "cidGroup1", "conversationTitle": "客服群",
        "senderId": "$:LWCP_v1:$abc", "senderNick": "小王", "senderStaffId": "staff1", "senderCorpId": "corp1",
        "isAdmin": False, "chatbotUserId": "$:LWCP_v1:$bot", "robotCode": "dingrobot", "isInAtList": True,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
        "sessionWebhook": f"{platform.base}/robot/sendBySession?session=s1",
        "sessionWebhookExpiredTime": now_ms + webhook_ttl_ms,
    }


def post_signed(bot, body: dict | bytes, *, timestamp_ms: int | None = None, secret: str = SECRET):
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"timestamp": ts, "sign": dingtalk_robot_sign(ts, secret), "content-type": "application/json"}
    return bot.client.post("/callbacks/dingtalk/support", content=data, headers=headers)


def test_signed_group_question_is_acked_and_answered_by_session_webhook_mentioning_the_asker(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    assert post_signed(bot, robot_message(platform)).status_code == 200
    [sent] = platform.wait_for("/robot/sendBySession")
    assert sent.query == {"session": "s1"}
    assert sent.json == {
        "msgtype": "markdown",
        "markdown": {"title": "电子发票怎么开？", "text": "@staff1 " + EXPECTED_TEXT},
        "at": {"atUserIds": ["staff1"], "isAtAll": False},
    }
    assert responder.seen[0].text == "电子发票怎么开？"  # the leading space is stripped
    assert responder.seen[0].conversation_id == "dingtalk:cidGroup1:staff1"


def test_one_to_one_replies_do_not_mention(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    post_signed(bot, robot_message(platform, group=False))
    [sent] = platform.wait_for("/robot/sendBySession")
    assert "at" not in sent.json and sent.json["markdown"]["text"] == EXPECTED_TEXT


@pytest.mark.parametrize(
    "tamper",
    ["forged_sign", "wrong_secret", "stale_timestamp", "future_timestamp", "missing_headers"],
)
def test_forged_or_stale_dingtalk_callbacks_are_rejected_and_nothing_is_answered_or_stored(serve_bot, platform, responder, tamper):
    bot = serve_bot(settings_for(platform), responder)
    now_ms = int(time.time() * 1000)
    body = json.dumps(robot_message(platform)).encode()
    if tamper == "forged_sign":
        response = bot.client.post("/callbacks/dingtalk/support", content=body,
                                   headers={"timestamp": str(now_ms), "sign": "Zm9yZ2Vk"})
    elif tamper == "wrong_secret":
        response = post_signed(bot, body, secret="not-the-secret")
    elif tamper == "stale_timestamp":
        response = post_signed(bot, body, timestamp_ms=now_ms - 3_700_000)
    elif tamper == "future_timestamp":
        response = post_signed(bot, body, timestamp_ms=now_ms + 3_700_000)
    else:
        response = bot.client.post("/callbacks/dingtalk/support", content=body)
    assert response.status_code == 401
    assert SECRET not in response.text
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0


@pytest.mark.parametrize("body", [b"not json", b"{}", json.dumps({"msgId": "x"}).encode()])
def test_signed_but_malformed_body_is_a_400_and_nothing_is_answered(serve_bot, platform, responder, body):
    bot = serve_bot(settings_for(platform), responder)
    assert post_signed(bot, body).status_code == 400
    bot.idle()
    assert responder.seen == [] and len(bot.connectors.gateway.dedupe) == 0


def test_unknown_bot_name_is_a_404(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    assert bot.client.post("/callbacks/dingtalk/sales", content=b"{}").status_code == 404


def test_the_same_message_delivered_three_times_is_answered_once(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    for _ in range(3):
        assert post_signed(bot, robot_message(platform, "msgSame")).status_code == 200
    bot.idle()
    assert len(platform.to("/robot/sendBySession")) == 1 and len(responder.seen) == 1


def test_a_slow_answer_never_delays_the_acknowledgement(serve_bot, platform, responder):
    responder.delay_s = 3.0
    bot = serve_bot(settings_for(platform), responder)
    started = time.monotonic()
    assert post_signed(bot, robot_message(platform)).status_code == 200
    assert time.monotonic() - started < 0.5
    platform.wait_for("/robot/sendBySession", timeout=10)


def test_expired_session_webhook_falls_back_to_the_openapi_with_one_cached_token(serve_bot, platform, responder):
    platform.routes["/v1.0/oauth2/accessToken"] = lambda r: (200, {"accessToken": "tok-1", "expireIn": 7200})
    bot = serve_bot(settings_for(platform), responder)
    post_signed(bot, robot_message(platform, "g1", webhook_ttl_ms=-1000))
    post_signed(bot, robot_message(platform, "p1", group=False, webhook_ttl_ms=-1000))
    [group] = platform.wait_for("/v1.0/robot/groupMessages/send")
    [single] = platform.wait_for("/v1.0/robot/oToMessages/batchSend")
    [token] = platform.to("/v1.0/oauth2/accessToken")
    assert token.json == {"appKey": "dingappkey", "appSecret": SECRET}
    assert group.headers["x-acs-dingtalk-access-token"] == "tok-1"
    param = json.dumps({"title": "电子发票怎么开？", "text": EXPECTED_TEXT}, ensure_ascii=False)
    assert group.json == {"robotCode": "dingrobot", "msgKey": "sampleMarkdown", "msgParam": param,
                          "openConversationId": "cidGroup1"}
    assert single.json == {"robotCode": "dingrobot", "msgKey": "sampleMarkdown", "msgParam": param,
                           "userIds": ["staff1"]}
    assert platform.to("/robot/sendBySession") == []


def test_a_session_webhook_on_a_foreign_host_is_never_called(serve_bot, platform, responder):
    platform.routes["/v1.0/oauth2/accessToken"] = lambda r: (200, {"accessToken": "tok-1", "expireIn": 7200})
    bot = serve_bot(settings_for(platform, ), responder)
    message = robot_message(platform)
    message["sessionWebhook"] = "http://169.254.169.254/latest/meta-data"  # the sign does not cover the body
    post_signed(bot, message)
    platform.wait_for("/v1.0/robot/groupMessages/send")
    assert platform.to("/robot/sendBySession") == []


def test_stream_mode_sdk_receives_from_a_fake_gateway_acks_and_the_answer_goes_by_webhook(
    serve_bot, platform, responder, fake_socket, wait_until
):
    acks: list[dict] = []
    frame = {
        "specVersion": "1.0", "type": "CALLBACK",
        "headers": {"topic": "/v1.0/im/bot/messages/get", "messageId": "frame-1", "contentType": "application/json",
                    "time": str(int(time.time() * 1000)), "appId": "app1"},
        "data": json.dumps(robot_message(platform, "streamMsg1")),
    }

    async def gateway(ws):
        await ws.send(json.dumps({"specVersion": "1.0", "type": "SYSTEM",
                                  "headers": {"topic": "ping", "messageId": "ping-1", "contentType": "application/json"},
                                  "data": json.dumps({"opaque": "op-1"})}))
        acks.append(json.loads(await ws.recv()))
        await ws.send(json.dumps(frame))
        await ws.send(json.dumps(frame))  # events may be redelivered: answered once anyway
        acks.append(json.loads(await ws.recv()))
        acks.append(json.loads(await ws.recv()))
        await ws.wait_closed()

    server = fake_socket(gateway)
    platform.routes["/v1.0/gateway/connections/open"] = lambda r: (200, {"endpoint": server.url, "ticket": "tk+1"})
    bot = serve_bot(settings_for(platform, mode="stream"), responder)

    # The SDK retries a failed open after a pause; allow one retry on a loaded machine.
    opened = platform.wait_for("/v1.0/gateway/connections/open", timeout=30)[-1]
    assert opened.json["clientId"] == "dingappkey" and opened.json["clientSecret"] == SECRET
    assert opened.json["subscriptions"] == [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]
    [sent] = platform.wait_for("/robot/sendBySession", timeout=30)
    assert sent.json["markdown"]["text"] == "@staff1 " + EXPECTED_TEXT
    bot.idle()
    assert len(responder.seen) == 1
    # The fake gateway reads the acks on its own event loop: they may land after the answer was sent.
    wait_until(lambda: len(acks) >= 2, timeout=10, what="the SDK's acks")
    assert acks[0]["headers"]["messageId"] == "ping-1" and json.loads(acks[0]["data"]) == {"opaque": "op-1"}
    assert acks[1] == {"code": 200, "headers": {"messageId": "frame-1", "contentType": "application/json"},
                       "message": "", "data": json.dumps({"response": "OK"})}


def _with(platform, **changes) -> dict:
    body = robot_message(platform)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key)
        else:
            body[key] = value
    return body


_DROP = object()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"text": "电子发票怎么开？"}, "field 'text' is not an object"),
        ({"text": {"content": ["电子发票"]}}, "field 'text.content' is not a string"),
        ({"sessionWebhookExpiredTime": "soon"}, "field 'sessionWebhookExpiredTime' is not a number of milliseconds"),
        ({"sessionWebhookExpiredTime": {"ms": 1}}, "field 'sessionWebhookExpiredTime' is not a number or a string"),
        ({"msgtype": "richText", "content": "hello"}, "field 'content' is not an object"),
        ({"msgtype": "richText", "content": {"richText": 7}}, "field 'content.richText' is not a list"),
        ({"msgId": 42}, "field 'msgId' is missing or not a string"),
        ({"conversationId": _DROP}, "field 'conversationId' is missing or not a string"),
        ({"senderStaffId": {"id": "staff1"}}, "field 'senderStaffId' is not a string"),
        ({"sessionWebhook": ["https://oapi.dingtalk.com"]}, "field 'sessionWebhook' is not a string"),
    ],
)
def test_a_signed_callback_with_a_field_of_the_wrong_type_is_a_400_naming_it_and_changes_nothing(
    serve_bot, platform, responder, change, problem
):
    bot = serve_bot(settings_for(platform), responder)
    response = post_signed(bot, _with(platform, **change))
    assert (response.status_code, response.json()) == (400, {"error": f"dingtalk: {problem}"})
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0
