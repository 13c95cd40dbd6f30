"""Secrets are never shown: made-up secrets are set everywhere (LLM keys and a password in an LLM URL,
IM app secrets, tokens and AES keys, the admin password, the session secret, the metrics token, the
ERP token, a database password), the app is run through start-up, questions, a failing LLM backend
that echoes the key it got, forged and real IM callbacks, error responses, console pages and bad
settings; then every log record (at DEBUG, tracebacks included), trace, audit row, error, page and
what was printed is searched for each secret.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.app.api import create_app
from assistant.app.erp_demo.service import BackgroundServer, create_erp_app, open_demo_store
from assistant.app.request_log import JsonLines
from assistant.app.settings import load_settings
from assistant.domain import AuditQuery
from assistant.errors import ConfigError
from connectors.crypto import dingtalk_robot_sign
from connectors.settings import ConnectorSettings, DingTalkBot, FeishuBot, WeComAIBot, WeComAppBot
from tests.assistant.answer.conftest import start_fake
from tests.conftest import make_settings
from tests.connectors.conftest import FakePlatform

SEED = Path(__file__).resolve().parents[3] / "data" / "erp" / "orders.json"
SECRETS = {
    "llm key 1": "sk-SECRET-llm-one-4e1f77",
    "llm key 2": "sk-SECRET-llm-two-9a2c11",
    "llm url password": "SECRET-llm-url-pass-3b8d",
    "dingtalk app secret": "SECRET-ding-app-5c3d90",
    "feishu app secret": "SECRET-feishu-app-77ab21",
    "feishu encrypt key": "SECRET-feishu-enc-1b2c34",
    "feishu verification token": "SECRET-feishu-vt-3d4e56",
    "wecom corp secret": "SECRET-wecom-corp-8f9a78",
    "wecom token": "SECRETwecomToken6b7c",
    "wecom aes key": "SECRETwecomAesKey" + "Q" * 26,  # 43 characters, as WeCom's are
    "wecom bot token": "SECRETwecomBotToken2e3f",
    "wecom bot aes key": "SECRETwecomBotAes" + "R" * 26,
    "admin password": "SECRET-admin-pass-2f3a99",
    "session secret": "SECRET-session-signing-0a1b2c3d4e5f",
    "metrics token": "SECRET-metrics-token-5d6e70",
    "erp token": "SECRET-erp-token-4c5d61",
    "database password": "SECRET-db-pass-6e7f82",
}
S = SECRETS


def connectors(platform: FakePlatform) -> ConnectorSettings:
    return ConnectorSettings(
        dingtalk=[DingTalkBot(name="support", app_key="dingkey", app_secret=S["dingtalk app secret"],
                              api_base=platform.base, webhook_hosts=[platform.netloc])],
        feishu=[FeishuBot(name="desk", app_id="cli_x", app_secret=S["feishu app secret"], api_base=platform.base,
                          encrypt_key=S["feishu encrypt key"], verification_token=S["feishu verification token"])],
        wecom_app=[WeComAppBot(name="hr", corp_id="ww1", corp_secret=S["wecom corp secret"], agent_id=1000002,
                               token=S["wecom token"], encoding_aes_key=S["wecom aes key"], api_base=platform.base)],
        wecom_bot=[WeComAIBot(name="ai", token=S["wecom bot token"], encoding_aes_key=S["wecom bot aes key"])],
    )


class Seen:
    """Everything shown to anyone: responses, exceptions, printed text, log records, audit rows."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, *texts: object) -> None:
        self.parts.extend(str(t) for t in texts)

    def response(self, response) -> object:
        self.add(response.status_code, response.headers, response.text)
        return response

    def text(self) -> str:
        return "\n".join(self.parts)


def test_no_secret_is_ever_logged_traced_answered_or_shown(tmp_path, caplog, capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    platform = FakePlatform()
    primary, primary_server = start_fake()
    secondary, secondary_server = start_fake()
    primary.mode, primary.status = "status", 401  # a careless endpoint: its error quotes the key it got
    secondary.mode = "fail"
    store = open_demo_store(tmp_path / "erp", SEED)
    erp = BackgroundServer(create_erp_app(store, S["erp token"]))
    erp_url = erp.start()
    host = secondary.url.removeprefix("http://")
    settings = make_settings(
        tmp_path / "data", models={"reranker": "none"},
        llm={"backends": [{"name": "primary", "base_url": primary.url, "api_key": S["llm key 1"]},
                          {"name": "secondary", "base_url": f"http://bot:{S['llm url password']}@{host}",
                           "api_key": S["llm key 2"]}], "tool_routing": False},
        erp={"base_url": erp_url, "token": S["erp token"]},
        auth={"admin_password": S["admin password"], "session_secret": S["session secret"]},
    ).model_copy(update={"connectors": connectors(platform), "metrics_token": SecretStr(S["metrics token"])})
    app = create_app(settings)
    try:
        with TestClient(app, client=("127.0.0.1", 41000)) as client:
            exercise(app, client, platform, seen)
    finally:
        platform.close()
        erp.stop()
        store.close()
        for server in (primary_server, secondary_server):
            server.shutdown()
            server.server_close()
    assert primary.requests and secondary.requests  # both backends were asked and failed
    assert primary.headers[0]["authorization"] == f"Bearer {S['llm key 1']}"  # the key did go where it belongs

    seen.add(*bad_settings(monkeypatch))
    seen.add(database_that_refuses(tmp_path))

    formatter = JsonLines()
    seen.add(*(formatter.format(record) for record in caplog.records))
    seen.add(*(record.getMessage() for record in caplog.records))
    printed = capsys.readouterr()
    seen.add(printed.out, printed.err)
    everything = seen.text()
    assert "LLM backend 'primary' failed" in everything and "answered 401" in everything  # the errors were shown
    leaked = {name for name, secret in SECRETS.items() if secret in everything}
    assert leaked == set(), f"secrets shown: {sorted(leaked)}"


def exercise(app, client: TestClient, platform: FakePlatform, seen: Seen) -> None:
    services = app.state.services
    key = services.auth.create_key("admin", name="secrets test")[1]
    api = {"Authorization": f"Bearer {key}"}
    assert seen.response(client.post("/v1/kbs", json={"name": "support"}, headers=api)).status_code == 201
    sop = "# 电子发票开具规范\n## 开票时间\n确认收货后48小时内开具电子发票，发送至下单邮箱。\n".encode()
    job = seen.response(client.post("/v1/kbs/support/documents", files=[("files", ("e-invoice.md", sop))],
                                    headers=api)).json()
    for _ in range(600):
        if client.get(job["status_url"], headers=api).json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)

    answered = seen.response(client.post("/v1/ask", json={"question": "电子发票什么时候开？"}, headers=api))
    assert answered.status_code == 200 and answered.json()["citations"]  # the extractive answer, after both failed
    seen.response(client.post("/v1/ask", json={"question": "订单20240521-8892到哪了？"}, headers=api))  # the ERP
    seen.response(client.post("/v1/chat/completions", headers=api,
                              json={"messages": [{"role": "user", "content": "发票什么时候开？"}]}))
    for path in ("/healthz", "/readyz", "/metrics", "/v1/connectors", "/v1/kbs", "/openapi.json"):
        seen.response(client.get(path, headers=api))
    seen.add(services.audit.query(AuditQuery(limit=100)))

    # Errors: no key, a wrong key, a bad body, a wrong metrics token from afar, forged callbacks.
    seen.response(client.post("/v1/ask", json={"question": "发票"}))
    seen.response(client.post("/v1/ask", json={"question": "发票"}, headers={"Authorization": "Bearer k_x.nope"}))
    seen.response(client.post("/v1/ask", json={"question": 3}, headers=api))
    seen.response(client.post("/v1/chat/completions", content=b"{", headers=api))
    remote = TestClient(app, client=("198.51.100.7", 41000))
    seen.response(remote.get("/metrics", headers={"Authorization": "Bearer wrong"}))
    seen.response(client.post("/callbacks/dingtalk/support", content=b"{}", headers={"timestamp": "1", "sign": "x"}))
    seen.response(client.post("/callbacks/feishu/desk", content=b'{"encrypt": "AAAA"}'))
    seen.response(client.get("/callbacks/wecom/hr", params={"msg_signature": "x", "timestamp": "1", "nonce": "n",
                                                            "echostr": "AAAA"}))
    now = str(int(time.time() * 1000))
    message = {"msgtype": "text", "text": {"content": "发票什么时候开？"}, "msgId": "m-secret-1", "conversationType": "1",
               "conversationId": "cid-1", "senderId": "$:u1", "senderStaffId": "u1", "senderNick": "u1",
               "sessionWebhook": f"{platform.base}/robot/send?s=1", "sessionWebhookExpiredTime": int(now) + 3_600_000}
    seen.response(client.post("/callbacks/dingtalk/support", content=json.dumps(message).encode(),
                              headers={"timestamp": now, "sign": dingtalk_robot_sign(now, S["dingtalk app secret"])}))
    platform.wait_for("/robot/send", 1, timeout=60)
    seen.add(*(r.body.decode("utf-8", "replace") for r in platform.requests))

    # The console, signed in with the admin password.
    console = TestClient(app, client=("127.0.0.1", 41001))
    token = re.search(r'name="csrf" value="([^"]+)"', console.get("/console/login").text).group(1)
    signed_in = seen.response(console.post("/console/login", data={"username": "admin", "password": S["admin password"],
                                                                  "csrf": token}))
    assert signed_in.status_code == 200 and "/console/login" not in str(signed_in.url)
    for page in ("/console", "/console/health", "/console/ask", "/console/audit", "/console/admin/keys"):
        seen.response(console.get(page))
    ask_token = re.search(r'name="csrf" value="([^"]+)"', console.get("/console/ask").text)
    if ask_token:
        seen.response(console.post("/console/ask", data={"question": "电子发票什么时候开？", "csrf": ask_token.group(1)}))


def bad_settings(monkeypatch) -> list[str]:
    """Settings that cannot be read: what the operator is told."""
    told = []
    cases = {
        "ASSISTANT_LLM__BACKENDS": json.dumps([{"base_url": "http://x/v1", "api_key": S["llm key 1"], "timeout": "soon"}]),
        "ASSISTANT_CONNECTORS__DINGTALK": json.dumps([{"app_key": "k", "app_secret": S["dingtalk app secret"],
                                                       "mode": "carrier-pigeon"}]),
        "ASSISTANT_METRICS_TOKEN": "",
        "ASSISTANT_AUTH__ADMIN_PASSWORD": "{" + S["admin password"],
    }
    for name, value in cases.items():
        with monkeypatch.context() as m:
            m.setenv(name, value)
            if name == "ASSISTANT_AUTH__ADMIN_PASSWORD":
                m.setenv("ASSISTANT_AUTH", "{" + S["admin password"])  # a group that is not JSON
            try:
                load_settings()
            except ConfigError as exc:
                told.append(str(exc))
    assert len(told) >= 2
    return told


def database_that_refuses(tmp_path) -> str:
    """A database URL with a password, pointing where nothing listens: the start-up error."""
    url = f"postgresql+psycopg://assistant:{S['database password']}@127.0.0.1:1/assistant"
    app = create_app(make_settings(tmp_path / "db-data", storage={"data_dir": tmp_path / "db-data", "database_url": url}))
    with pytest.raises(Exception) as failed:
        with TestClient(app):
            pass
    return f"{failed.value!s}\n{failed.value!r}\n{failed.getrepr()}"
