"""Wiring: the app factory mounts the connectors, and a real question travels IM -> pipeline -> IM."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from assistant.app.container import Services
from assistant.app.settings import Settings
from assistant.domain import DocumentMeta
from connectors.app import build_connectors
from connectors.crypto import dingtalk_robot_sign
from connectors.gateway import PipelineResponder
from connectors.settings import (
    ConnectorSettings,
    DingTalkBot,
    WeComAppBot,
    load_bots_file,
)
from tests.conftest import as_admin, make_settings

SECRET = "ding-secret-e2e"
SOP = """# 电子发票开具规范
版本：V3
## 一、开票时间
确认收货后48小时内开具电子发票，发送至下单邮箱。
## 二、红冲重开
发票信息有误时，可在订单详情页申请红冲后重新开具。
"""


def dingtalk_bot(platform) -> DingTalkBot:
    return DingTalkBot(name="support", app_key="dingkey", app_secret=SECRET, api_base=platform.base,
                       webhook_hosts=[platform.netloc])


def signed_callback(platform, text: str, msg_id: str) -> tuple[bytes, dict]:
    now_ms = int(time.time() * 1000)
    body = {"msgtype": "text", "text": {"content": text}, "msgId": msg_id, "conversationType": "1",
            "conversationId": "cid1", "senderId": "s1", "senderStaffId": "staff1", "senderNick": "小王",
            "sessionWebhook": f"{platform.base}/robot/send", "sessionWebhookExpiredTime": now_ms + 3_600_000}
    ts = str(now_ms)
    return json.dumps(body).encode(), {"timestamp": ts, "sign": dingtalk_robot_sign(ts, SECRET)}


@pytest.fixture(scope="module")
def tiny_kb(tmp_path_factory):
    """A real data directory holding one short SOP (real embedder, no cross-encoder)."""
    root = tmp_path_factory.mktemp("im-e2e")
    with Services(make_settings(root / "data", models={"reranker": "none"})) as services:
        services.catalog.create_kb("support")
        path = root / "e-invoice.md"
        path.write_text(SOP, encoding="utf-8")
        meta = DocumentMeta(id="e-invoice", url="https://kb.example.com/e-invoice")
        assert services.ingestor().ingest_file(path, "support", meta).status == "added"
        yield services


def test_a_dingtalk_question_is_answered_from_the_knowledge_base_with_its_source(serve_bot, platform, tiny_kb):
    settings = ConnectorSettings(dingtalk=[dingtalk_bot(platform)])
    bot = serve_bot(settings, PipelineResponder(lambda: tiny_kb.default_pipeline, settings.gateway))
    body, headers = signed_callback(platform, " 电子发票多久能开出来？", "e2e-1")
    assert bot.client.post("/callbacks/dingtalk/support", content=body, headers=headers).status_code == 200
    [sent] = platform.wait_for("/robot/send", timeout=60)
    text = sent.json["markdown"]["text"]
    assert "48小时" in text and "[1]" in text
    assert "**来源**\n[1] [电子发票开具规范](https://kb.example.com/e-invoice)" in text


def test_a_question_the_knowledge_base_does_not_cover_gets_a_helpful_refusal(serve_bot, platform, tiny_kb):
    settings = ConnectorSettings(dingtalk=[dingtalk_bot(platform)])
    bot = serve_bot(settings, PipelineResponder(lambda: tiny_kb.default_pipeline, settings.gateway))
    body, headers = signed_callback(platform, "你们公司的股票代码是多少", "e2e-2")
    bot.client.post("/callbacks/dingtalk/support", content=body, headers=headers)
    [sent] = platform.wait_for("/robot/send", timeout=60)
    assert sent.json["markdown"]["text"].startswith("抱歉，知识库里没有找到")


def test_the_app_factory_mounts_callbacks_and_chat_completions_and_runs_the_gateway(platform, tmp_path):
    settings = make_settings(tmp_path / "data", models={"reranker": "none"}).model_copy(
        update={"connectors": ConnectorSettings(dingtalk=[dingtalk_bot(platform)])}
    )
    with TestClient(create_app(settings)) as client:  # the lifespan starts the gateway workers
        assert client.get("/v1/connectors").status_code == 401
        as_admin(client, settings)
        status = client.get("/v1/connectors").json()
        assert status["bots"] == [{"platform": "dingtalk", "bot": "support"}]
        body, headers = signed_callback(platform, "发票怎么开", "app-1")
        assert client.post("/callbacks/dingtalk/support", content=body, headers=headers).status_code == 200
        platform.wait_for("/robot/send", timeout=60)
        completion = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "发票怎么开"}]})
        assert completion.status_code == 200 and completion.json()["object"] == "chat.completion"
        assert SECRET not in json.dumps(client.get("/openapi.json").json())


def test_bots_come_from_env_and_a_file_and_secrets_never_show_in_reprs(tmp_path, monkeypatch):
    bots = {"wecom_app": [{"name": "hr", "corp_id": "ww1", "corp_secret": "file-secret", "agent_id": 2,
                           "token": "t", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}]}
    path = tmp_path / "bots.json"
    path.write_text(json.dumps(bots))
    monkeypatch.setenv("ASSISTANT_CONNECTORS__FILE", str(path))
    monkeypatch.setenv("ASSISTANT_CONNECTORS__DINGTALK", json.dumps([{"name": "a", "app_key": "k", "app_secret": "env-secret"},
                                                                    {"name": "b", "app_key": "k2", "app_secret": "env-2"}]))
    monkeypatch.setenv("ASSISTANT_CONNECTORS__GATEWAY__USER_RATE", "3")
    settings = Settings(storage={"data_dir": tmp_path / "d"})
    connectors = load_bots_file(settings.connectors)
    assert [b.name for b in connectors.dingtalk] == ["a", "b"] and connectors.wecom_app[0].name == "hr"
    assert connectors.gateway.user_rate == 3
    assert isinstance(connectors.wecom_app[0], WeComAppBot)
    for secret in ("env-secret", "env-2", "file-secret"):
        assert secret not in repr(settings) and secret not in str(connectors.model_dump())
    built = build_connectors(connectors, responder=None)  # type: ignore[arg-type]
    try:
        assert sorted((c.platform, c.bot) for c in built.registry) == [("dingtalk", "a"), ("dingtalk", "b"), ("wecom", "hr")]
        assert all(s not in repr(c) for c in built.registry for s in ("env-secret", "file-secret"))
    finally:
        built.stop()


def test_two_bots_with_one_name_on_one_platform_are_a_configuration_error():
    twice = [DingTalkBot(name="x", app_key="k", app_secret="s")] * 2
    with pytest.raises(ValueError, match="two bots are named 'x'"):
        build_connectors(ConnectorSettings(dingtalk=twice), responder=None)  # type: ignore[arg-type]


def test_an_oversized_callback_is_refused_before_it_is_read(serve_bot, platform, responder):
    bot = serve_bot(ConnectorSettings(dingtalk=[dingtalk_bot(platform)]), responder)
    response = bot.client.post("/callbacks/dingtalk/support", content=b"x" * (2 << 20))
    assert response.status_code == 413 and responder.seen == []
