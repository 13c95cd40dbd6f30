"""WeCom self-built app: URL check and encrypted XML callbacks (sealed by wechatpy) in, message/send out."""

from __future__ import annotations

import time

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from connectors.settings import ConnectorSettings, WeComAppBot

# The official sample's token, key and corp id (docs/im-platforms.md)
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
CORP_SECRET, AGENT_ID = "wecom-corp-secret", 1000002
EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)


def settings_for(platform) -> ConnectorSettings:
    bot = WeComAppBot(name="support", corp_id=CORP_ID, corp_secret=CORP_SECRET, agent_id=AGENT_ID, token=TOKEN,
                      encoding_aes_key=AES_KEY, api_base=platform.base)
    return ConnectorSettings(wecom_app=[bot])


@pytest.fixture
def wecom_api(platform):
    tokens = iter(["acc-1", "acc-2"])
    platform.routes["/cgi-bin/gettoken"] = lambda r: (200, {"errcode": 0, "errmsg": "ok", "access_token": next(tokens), "expires_in": 7200})
    platform.routes["/cgi-bin/message/send"] = lambda r: (200, {"errcode": 0, "errmsg": "ok", "msgid": "x"})
    return platform


def text_xml(msg_id="7001", content="电子发票怎么开？", agent=AGENT_ID) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{agent}</AgentID></xml>"
    )


def post(bot, plain_xml: str, *, aes_key=AES_KEY, corp_id=CORP_ID, timestamp=None, signature=None, body=None):
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sealed = WeChatCrypto(TOKEN, aes_key, corp_id).encrypt_message(plain_xml, "nonce7", ts)
    encrypt = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    msg_signature = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    envelope = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
                f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>")
    query = {"msg_signature": signature or msg_signature, "timestamp": ts, "nonce": "nonce7"}
    return bot.client.post("/callbacks/wecom/support", params=query, content=body if body is not None else envelope)


def test_url_check_with_the_official_sample_returns_the_decrypted_echostr(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    query = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589", "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    }
    response = bot.client.get("/callbacks/wecom/support", params=query)
    assert response.status_code == 200 and response.text == "1616140317555161061"
    forged = dict(query, msg_signature="0" * 40)
    assert bot.client.get("/callbacks/wecom/support", params=forged).status_code == 401


def test_encrypted_text_message_is_acked_empty_and_answered_by_message_send(serve_bot, wecom_api, responder):
    bot = serve_bot(settings_for(wecom_api), responder)
    response = post(bot, text_xml())
    assert response.status_code == 200 and response.content == b""
    [sent] = wecom_api.wait_for("/cgi-bin/message/send")
    assert sent.query == {"access_token": "acc-1"}
    assert sent.json == {"touser": "zhangsan", "agentid": AGENT_ID, "msgtype": "markdown",
                         "markdown": {"content": EXPECTED_TEXT}}
    [token] = wecom_api.to("/cgi-bin/gettoken")
    assert token.query == {"corpid": CORP_ID, "corpsecret": CORP_SECRET}
    assert responder.seen[0].conversation_id == "wecom:zhangsan:zhangsan"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged_signature", 401),
        ("wrong_key", 401),
        ("stale_timestamp", 401),
        ("wrong_receive_id", 403),
        ("another_agent", 403),
        ("malformed_xml", 400),
        ("no_encrypt_element", 400),
    ],
)
def test_forged_wecom_callbacks_are_rejected_and_nothing_is_answered_or_stored(serve_bot, platform, responder, case, status):
    bot = serve_bot(settings_for(platform), responder)
    response = {
        "forged_signature": lambda: post(bot, text_xml(), signature="f" * 40),
        "wrong_key": lambda: post(bot, text_xml(), aes_key="B" * 43),
        "stale_timestamp": lambda: post(bot, text_xml(), timestamp=int(time.time()) - 7200),
        "wrong_receive_id": lambda: post(bot, text_xml(), corp_id="ww_other_corp"),
        "another_agent": lambda: post(bot, text_xml(agent=999)),
        "malformed_xml": lambda: post(bot, text_xml(), body="<xml><Encrypt>"),
        "no_encrypt_element": lambda: post(bot, text_xml(), body="<xml><ToUserName>x</ToUserName></xml>"),
    }[case]()
    assert response.status_code == status, response.text
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0


def test_the_same_msgid_delivered_three_times_is_answered_once(serve_bot, wecom_api, responder):
    bot = serve_bot(settings_for(wecom_api), responder)
    for _ in range(3):  # WeCom retries when it sees no answer within 5 s
        assert post(bot, text_xml("7777")).status_code == 200
    bot.idle()
    assert len(wecom_api.to("/cgi-bin/message/send")) == 1 and len(responder.seen) == 1


def test_a_slow_answer_never_delays_the_acknowledgement(serve_bot, wecom_api, responder):
    responder.delay_s = 3.0
    bot = serve_bot(settings_for(wecom_api), responder)
    started = time.monotonic()
    assert post(bot, text_xml()).status_code == 200
    assert time.monotonic() - started < 0.5
    wecom_api.wait_for("/cgi-bin/message/send", timeout=10)


def test_an_expired_access_token_is_fetched_again_and_the_send_retried(serve_bot, wecom_api, responder):
    replies = iter([(200, {"errcode": 42001, "errmsg": "access_token expired"}), (200, {"errcode": 0})])
    wecom_api.routes["/cgi-bin/message/send"] = lambda r: next(replies)
    bot = serve_bot(settings_for(wecom_api), responder)
    post(bot, text_xml())
    sends = wecom_api.wait_for("/cgi-bin/message/send", count=2)
    assert [s.query["access_token"] for s in sends] == ["acc-1", "acc-2"]


def test_events_and_images_are_acknowledged_without_an_answer(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    event = (f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>zhangsan</FromUserName><MsgType>event</MsgType>"
             f"<Event>enter_agent</Event><AgentID>{AGENT_ID}</AgentID></xml>")
    assert post(bot, event).status_code == 200
    bot.idle()
    assert responder.seen == []


@pytest.mark.parametrize(
    ("plain", "problem"),
    [
        ('<?xml version="1.0" encoding="x-unknown"?><xml><MsgType>text</MsgType></xml>', "body is not well-formed XML"),
        ("MsgType=text&Content=hi", "body is not well-formed XML"),
        (text_xml().replace("<MsgId>7001</MsgId>", ""), "text message without FromUserName or MsgId"),
    ],
)
def test_a_signed_callback_whose_plaintext_is_malformed_is_a_400_naming_the_problem(serve_bot, platform, responder, plain, problem):
    bot = serve_bot(settings_for(platform), responder)
    response = post(bot, plain)
    assert (response.status_code, response.json()) == (400, {"error": f"wecom: {problem}"})
    bot.idle()
    assert responder.seen == [] and platform.requests == []
    assert len(bot.connectors.gateway.dedupe) == 0


def test_an_envelope_declaring_an_unknown_encoding_is_a_400_not_a_500(serve_bot, platform, responder):
    bot = serve_bot(settings_for(platform), responder)
    envelope = '<?xml version="1.0" encoding="x-unknown"?><xml><Encrypt>abc</Encrypt></xml>'
    response = post(bot, text_xml(), body=envelope)
    assert (response.status_code, response.json()) == (400, {"error": "wecom: body is not well-formed XML"})
    assert responder.seen == []
