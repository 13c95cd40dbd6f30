"""WeCom AI bot: encrypted JSON callbacks answered by stream refreshes, and the official SDK's long connection."""

from __future__ import annotations

import json
import time

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from connectors.settings import ConnectorSettings, WeComAIBot
from connectors.wecom_bot import stream_id_for

TOKEN, AES_KEY, BOT_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "aib-123"
EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)
PEER = WeChatCrypto(TOKEN, AES_KEY, "")  # AI bots use an empty receive id


def settings_for(**overrides) -> ConnectorSettings:
    values = {"name": "aibot", "bot_id": BOT_ID, "token": TOKEN, "encoding_aes_key": AES_KEY, **overrides}
    return ConnectorSettings(wecom_bot=[WeComAIBot(**values)])


def text_body(msgid="msg-1", content="@客服助手 电子发票怎么开？", bot_id=BOT_ID) -> dict:
    return {"msgid": msgid, "aibotid": bot_id, "chatid": "wrGroup1", "chattype": "group", "from": {"userid": "lisi"},
            "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?x=1", "msgtype": "text",
            "text": {"content": content}}


def refresh_body(stream_id: str) -> dict:
    return {"msgid": "msg-refresh", "aibotid": BOT_ID, "chatid": "wrGroup1", "chattype": "group",
            "from": {"userid": "lisi"}, "msgtype": "stream", "stream": {"id": stream_id}}


def post(bot, body: dict, *, peer=PEER, signature=None, timestamp=None):
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sealed = peer.encrypt_message(json.dumps(body, ensure_ascii=False), "nonce9", ts)
    encrypt = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    msg_signature = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = {"msg_signature": signature or msg_signature, "timestamp": ts, "nonce": "nonce9"}
    return bot.client.post("/callbacks/wecom_bot/aibot", params=query, json={"encrypt": encrypt})


def opened(response) -> dict:
    """The stream reply, decrypted and its signature checked by wechatpy."""
    reply = response.json()
    plain = PEER.decrypt_message({"Encrypt": reply["encrypt"]}, reply["msgsignature"], str(reply["timestamp"]), reply["nonce"])
    return json.loads(plain)


def test_a_question_opens_a_stream_at_once_and_a_refresh_after_the_answer_finishes_it(serve_bot, responder):
    bot = serve_bot(settings_for(), responder)
    first = opened(post(bot, text_body()))
    stream_id = stream_id_for("msg-1")
    assert first == {"msgtype": "stream", "stream": {"id": stream_id, "finish": False, "content": ""}}
    bot.idle()
    assert responder.seen[0].text == "电子发票怎么开？" and responder.seen[0].conversation_id == "wecom_bot:wrGroup1:lisi"
    final = opened(post(bot, refresh_body(stream_id)))
    assert final == {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": EXPECTED_TEXT}}


def test_a_refresh_before_the_answer_is_ready_keeps_the_stream_open(serve_bot, responder):
    responder.delay_s = 1.0
    bot = serve_bot(settings_for(), responder)
    post(bot, text_body())
    started = time.monotonic()
    pending = opened(post(bot, refresh_body(stream_id_for("msg-1"))))
    assert time.monotonic() - started < 0.5
    assert pending["stream"]["finish"] is False


def test_url_check_returns_the_echostr_sealed_for_the_bot(serve_bot, responder):
    bot = serve_bot(settings_for(), responder)
    sealed = PEER.encrypt_message("echo-12345", "n1", "1700000000")
    echostr = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    query = {"msg_signature": sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0], "timestamp": "1700000000",
             "nonce": "n1", "echostr": echostr}
    assert bot.client.get("/callbacks/wecom_bot/aibot", params=query).text == "echo-12345"


def test_the_same_message_delivered_three_times_is_answered_once_on_one_stream(serve_bot, responder):
    bot = serve_bot(settings_for(), responder)
    ids = {opened(post(bot, text_body("msg-dup")))["stream"]["id"] for _ in range(3)}
    bot.idle()
    assert ids == {stream_id_for("msg-dup")} and len(responder.seen) == 1


@pytest.mark.parametrize(
    ("case", "status"),
    [("forged_signature", 401), ("wrong_key", 401), ("stale_timestamp", 401), ("sealed_for_a_corp", 403),
     ("another_bot", 403), ("malformed", 400)],
)
def test_forged_ai_bot_callbacks_are_rejected_and_nothing_is_answered_or_stored(serve_bot, responder, case, status):
    bot = serve_bot(settings_for(), responder)
    response = {
        "forged_signature": lambda: post(bot, text_body(), signature="a" * 40),
        "wrong_key": lambda: post(bot, text_body(), peer=WeChatCrypto(TOKEN, "C" * 43, "")),
        "stale_timestamp": lambda: post(bot, text_body(), timestamp=int(time.time()) - 7200),
        "sealed_for_a_corp": lambda: post(bot, text_body(), peer=WeChatCrypto(TOKEN, AES_KEY, "wwcorp")),
        "another_bot": lambda: post(bot, text_body(bot_id="aib-other")),
        "malformed": lambda: bot.client.post("/callbacks/wecom_bot/aibot", content=b"[]",
                                             params={"msg_signature": "a", "timestamp": str(int(time.time())), "nonce": "n"}),
    }[case]()
    assert response.status_code == status, response.text
    bot.idle()
    assert responder.seen == [] and len(bot.connectors.gateway.dedupe) == 0


def test_long_connection_with_the_official_sdk_subscribes_receives_and_streams_the_answer(
    serve_bot, responder, fake_socket, monkeypatch, wait_until
):
    import aibot.ws

    monkeypatch.setattr(aibot.ws, "_SSL_CONTEXT", None)  # ws:// on loopback
    frames: list[dict] = []

    async def wecom(ws):
        subscribe = json.loads(await ws.recv())
        frames.append(subscribe)
        await ws.send(json.dumps({"headers": {"req_id": subscribe["headers"]["req_id"]}, "errcode": 0, "errmsg": "ok"}))
        push = {"cmd": "aibot_msg_callback", "headers": {"req_id": "req-42"}, "body": text_body("ws-msg-1")}
        await ws.send(json.dumps(push, ensure_ascii=False))
        await ws.send(json.dumps(push, ensure_ascii=False))  # redelivered: answered once
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if frame.get("cmd") == "aibot_respond_msg":
                await ws.send(json.dumps({"headers": {"req_id": frame["headers"]["req_id"]}, "errcode": 0, "errmsg": "ok"}))
                break
        await ws.wait_closed()

    server = fake_socket(wecom)
    bot = serve_bot(settings_for(mode="websocket", secret="bot-secret", ws_url=server.url, token=None,
                                 encoding_aes_key=None), responder)
    respond = wait_until(lambda: [f for f in frames if f.get("cmd") == "aibot_respond_msg"], what="a stream reply")
    assert frames[0]["cmd"] == "aibot_subscribe" and frames[0]["body"] == {"bot_id": BOT_ID, "secret": "bot-secret"}
    assert respond[0] == {"cmd": "aibot_respond_msg", "headers": {"req_id": "req-42"},
                          "body": {"msgtype": "stream",
                                   "stream": {"id": stream_id_for("ws-msg-1"), "finish": True, "content": EXPECTED_TEXT}}}
    bot.idle()
    assert len(responder.seen) == 1 and bot.connectors.gateway.stats.answered == 1


def test_a_stream_nothing_will_be_sent_for_is_closed_so_wecom_stops_polling(serve_bot, responder):
    bot = serve_bot(settings_for(), responder)
    opened(post(bot, text_body("msg-empty", content="@客服助手 ")))  # only the mention: nothing to answer
    closed = opened(post(bot, refresh_body(stream_id_for("msg-empty"))))
    assert closed["stream"] == {"id": stream_id_for("msg-empty"), "finish": True, "content": ""}
    assert responder.seen == []


def test_an_answer_ready_after_wecom_stopped_polling_goes_to_the_response_url(platform, make_answer):
    import httpx

    from connectors import format as fmt
    from connectors.base import CallbackRequest
    from connectors.wecom_bot import WeComBotChannel

    now = [time.time()]
    with httpx.Client(trust_env=False) as http:
        channel = WeComBotChannel(settings_for().wecom_bot[0], http, clock=lambda: now[0])
        body = dict(text_body("msg-late"), response_url=f"{platform.base}/cgi-bin/aibot/response?response_code=rc1")
        sealed = PEER.encrypt_message(json.dumps(body, ensure_ascii=False), "n", str(int(now[0])))
        request = CallbackRequest("POST", {
            "msg_signature": sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0],
            "timestamp": str(int(now[0])), "nonce": "n"},
            {}, json.dumps({"encrypt": sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]}).encode())
        message = channel.handle(request).message
        now[0] += 400  # past WeCom's 6 minutes of polling
        [reply] = fmt.render(make_answer("q", "答案 [1]"), message, channel)
        channel.send(reply)
    [sent] = platform.wait_for("/cgi-bin/aibot/response")
    assert sent.query == {"response_code": "rc1"}
    assert sent.json == {"msgtype": "markdown", "markdown": {"content": "答案 [1]"}}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"from": "lisi"}, "field 'from' is not an object"),
        ({"from": {"userid": 7}}, "field 'from.userid' is not a string"),
        ({"text": "电子发票怎么开？"}, "field 'text' is not an object"),
        ({"text": {"content": {"zh": "电子发票"}}}, "field 'text.content' is not a string"),
        ({"chatid": ["wrGroup1"]}, "field 'chatid' is not a string"),
        ({"msgid": 12}, "field 'msgid' is missing or not a string"),
        ({"response_url": 1}, "field 'response_url' is not a string"),
        ({"msgtype": "stream", "stream": "sid"}, "field 'stream' is not an object"),
    ],
)
def test_a_signed_callback_with_a_field_of_the_wrong_type_is_a_400_naming_it_and_opens_no_stream(
    serve_bot, responder, change, problem
):
    bot = serve_bot(settings_for(), responder)
    response = post(bot, {**text_body(), **change})
    assert (response.status_code, response.json()) == (400, {"error": f"wecom_bot: {problem}"})
    bot.idle()
    assert responder.seen == [] and len(bot.connectors.gateway.dedupe) == 0
    [channel] = list(bot.connectors.registry)
    assert channel._streams == {}


def test_a_signed_callback_whose_plaintext_is_not_json_is_a_400(serve_bot, responder):
    bot = serve_bot(settings_for(), responder)
    ts = str(int(time.time()))
    sealed = PEER.encrypt_message("msgid=1&text=hi", "nonce9", ts)
    encrypt = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = {"msg_signature": signature, "timestamp": ts, "nonce": "nonce9"}
    response = bot.client.post("/callbacks/wecom_bot/aibot", params=query, json={"encrypt": encrypt})
    assert (response.status_code, response.json()) == (400, {"error": "wecom_bot: decrypted body is not JSON"})
    assert responder.seen == []
