"""Routing rules in IM chats, on the real app through signed DingTalk callbacks: the gateway's chat ->
knowledge bases settings became rules at the first start (and the audience groups IM rules), once; a
rule saved over the API routes the next question of its chat; no rule opens what the asker may not read."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from assistant.app.routing import IM_PLATFORMS, seed_from_settings
from assistant.domain import DocumentMeta
from connectors.settings import ConnectorSettings, DingTalkBot
from tests.conftest import as_admin, make_settings
from tests.connectors.test_principals_e2e import SECRET, im

DOCS = {
    "support": "# 售后服务规范\n## 发票申请\n发票问题请在订单详情页提交申请，客服在3个工作日内处理。\n"
               "## 退款时效\n退款审核通过后7个工作日内原路退回。\n",
    "finance": "# 财务开票规范\n## 电子发票开具\n电子发票在顾客确认收货后48小时内开具，发送至下单邮箱。\n",
    "hr": "# 人事制度\n## 发票报销\n员工差旅发票须在30天内提交报销，内部编号 HR-5521。\n",
}


@pytest.fixture
def app(tmp_path, platform):
    bot = DingTalkBot(name="support", app_key="dingkey", app_secret=SECRET, api_base=platform.base,
                      webhook_hosts=[platform.netloc])
    connectors = ConnectorSettings(dingtalk=[bot], gateway={
        "user_rate": 100, "groups": {"cid-fin": {"kb": ["finance"]}, "cid-muted": {"require_mention": True}},
        "kb": ["support"]})
    settings = make_settings(tmp_path / "data", models={"reranker": "none"}, erp={"base_url": None},
                             audience={"groups": {"dingtalk:cid-staff": "staff", "cid-cust": "customer"}},
                             ).model_copy(update={"connectors": connectors})
    application = create_app(settings)
    with TestClient(application) as client:
        services = application.state.services
        services.directory.create_department("hr")
        for kb, text in DOCS.items():
            services.catalog.create_kb(kb, department="hr" if kb == "hr" else None)
            path = tmp_path / f"{kb}.md"
            path.write_text(text, encoding="utf-8")
            assert services.ingestor().ingest_file(path, kb, DocumentMeta()).status != "failed"
        yield as_admin(client, settings), platform, settings


def last_question(client, text: str) -> dict:
    entries = client.get("/v1/audit", params={"kind": "question", "channel": "im:dingtalk"}).json()["entries"]
    return next(e for e in entries if e["question"] == text)


def test_the_settings_became_rules_at_the_first_start_and_route_as_before(app):
    client, platform, settings = app
    rules = client.get("/v1/rules").json()
    assert [(r["name"], r["source"], r["match"]["chats"], r["match"]["platforms"], r["action"]["kbs"])
            for r in rules] == [("settings: chat cid-fin", "settings", ["cid-fin"], [], ["finance"]),
                                ("settings: IM default", "settings", [], list(IM_PLATFORMS), ["support"])]
    im_rules = {(r["platform"], r["chat_id"], r["role"]) for r in client.get("/v1/im-rules").json()}
    assert im_rules == {("dingtalk", "cid-staff", "agent"), (None, "cid-cust", "customer")}

    reply = im(client, platform, "电子发票多久开具？", "fin", 1)  # the chat the settings sent to finance
    assert "48小时" in reply
    row = last_question(client, "电子发票多久开具？")
    assert row["kbs"] == ["finance"] and row["rule"] == f"#{rules[0]['id']} v1 settings: chat cid-fin"
    im(client, platform, "退款多久到账？", "zhang", 1)  # any other chat: the settings' IM default
    assert last_question(client, "退款多久到账？")["kbs"] == ["support"]

    services = client.app.state.services
    seed_from_settings(settings, services.rule_store, services.directory)  # the next start seeds nothing again
    assert len(client.get("/v1/rules").json()) == 2 and len(client.get("/v1/im-rules").json()) == 2
    assert client.delete(f"/v1/rules/{rules[0]['id']}").status_code == 200  # edited away by an admin: stays away
    seed_from_settings(settings, services.rule_store, services.directory)
    assert [r["name"] for r in client.get("/v1/rules").json()] == ["settings: IM default"]


def test_a_rule_sends_the_next_invoice_question_of_its_chat_to_finance(app):
    client, platform, _ = app
    im(client, platform, "发票怎么申请？", "li", 1)
    assert last_question(client, "发票怎么申请？")["kbs"] == ["support"]
    rule = client.post("/v1/rules", json={"name": "李的群问发票找财务", "position": 1,
                                          "match": {"keywords": ["发票"], "chats": ["cid-li"]},
                                          "action": {"kbs": ["finance"]}})
    assert rule.status_code == 201, rule.text
    reply = im(client, platform, "电子发票什么时候开？", "li", 2)
    assert "48小时" in reply, reply
    row = last_question(client, "电子发票什么时候开？")
    assert row["kbs"] == ["finance"] and row["rule"] == f"#{rule.json()['id']} v1 李的群问发票找财务"
    im(client, platform, "电子发票什么时候开呢？", "wang", 1)  # another chat: untouched
    assert last_question(client, "电子发票什么时候开呢？")["kbs"] == ["support"]


def test_no_rule_lets_an_im_customer_search_another_department_s_knowledge_base(app):
    client, platform, _ = app
    client.post("/v1/rules", json={"name": "报销去人事", "position": 1, "match": {"keywords": ["报销"]},
                                   "action": {"kbs": ["hr"]}})
    reply = im(client, platform, "差旅发票报销期限是多久？", "cust", 1)
    assert "HR-5521" not in reply and "30天" not in reply
    row = last_question(client, "差旅发票报销期限是多久？")
    assert row["kbs"] == [] and row["refused"] and row["rule"].endswith("报销去人事")
