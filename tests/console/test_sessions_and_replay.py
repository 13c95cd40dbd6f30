"""The live sessions board and the sandbox's replay in a real browser: a pasted Feishu payload is
answered and laid out as Feishu would get it; a signed DingTalk callback sent to the running server
shows up on the open sessions page without a reload, and its turn's trace on the session's page;
a knowledge manager of one department sees neither another department's sessions nor its knowledge.

Screenshots go to docs/screenshots/ (replay, sessions, session).
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

from tests.console.conftest import DINGTALK_SECRET, MANAGER, Site
from connectors.crypto import dingtalk_robot_sign

QUESTION = "退款多久到账？"


def _feishu_event(text: str, chat: str) -> dict:
    """A Feishu group message @-mentioning the bot, as the platform posts it (plaintext, schema 2.0)."""
    return {
        "schema": "2.0",
        "header": {"event_id": f"ev-{uuid.uuid4().hex[:8]}", "event_type": "im.message.receive_v1",
                   "token": "t", "app_id": "cli_console"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_chen"}, "sender_type": "user"},
            "message": {"message_id": f"om_{uuid.uuid4().hex[:8]}", "chat_id": chat, "chat_type": "group",
                        "message_type": "text", "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
                        "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "客服助手"}]},
        },
    }


def _dingtalk_callback(site: Site, text: str, conversation: str, sender: str) -> None:
    """What DingTalk posts when someone @-mentions the robot in a group, signed with the robot's secret."""
    now = int(time.time() * 1000)
    body = {"msgtype": "text", "text": {"content": text}, "msgId": f"msg-{uuid.uuid4().hex[:10]}",
            "conversationType": "2", "conversationId": conversation, "isInAtList": True, "senderStaffId": sender,
            "senderNick": "赵客服", "sessionWebhook": f"{site.dingtalk.base}/robot/send",
            "sessionWebhookExpiredTime": now + 3_600_000}
    timestamp = str(now)
    sent = site.api.post("/callbacks/dingtalk/support", content=json.dumps(body, ensure_ascii=False).encode(),
                         headers={"timestamp": timestamp, "sign": dingtalk_robot_sign(timestamp, DINGTALK_SECRET)})
    assert sent.status_code == 200, sent.text


def test_a_pasted_feishu_payload_is_replayed_in_the_sandbox_and_shows_the_reply_feishu_would_get(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/ask")
    page.click("#replay-link")
    page.wait_for_selector("#replay-form")
    page.select_option("#replay-platform", "feishu")
    page.fill("#replay-payload", json.dumps(_feishu_event(QUESTION, "oc_console_replay"), ensure_ascii=False, indent=2))
    page.click("#replay-submit")
    page.wait_for_selector("#replay-result")
    assert page.inner_text("#replay-decision") == "已作答"
    message = page.inner_text("#replay-message")
    assert QUESTION in message and "oc_console_replay" in message and "@_user_1" not in message
    reply = page.inner_text("#replay-replies")
    assert "三到七个工作日" in reply and "飞书将收到的回复" in page.inner_text("#replay-result")
    assert "退货退款服务规范" in page.inner_text("#citations")
    page.click("#trace-stages > summary")
    page.click("#stage-fused > summary")
    assert "refunds" in page.inner_text("#stage-fused")
    page.locator("#replay-result").evaluate("result => window.scrollTo(0, result.offsetTop - 56)")  # below the top bar
    browsing.finish("replay")

    page.fill("#replay-payload", "{not json")
    page.click("#replay-submit")
    page.wait_for_selector(".notice.bad")
    assert "not JSON" in page.inner_text(".notice.bad")


def test_a_signed_dingtalk_message_appears_on_the_open_sessions_page_without_a_reload(site, browsing):
    page = browsing.page
    conversation, sender = f"cid-live-{uuid.uuid4().hex[:6]}", "zhao"
    browsing.sign_in()
    page.click("nav.sidebar a:text-is('实时会话')")
    page.wait_for_selector("#session-table")
    page.select_option("#session-filters select[name=platform]", "dingtalk")
    page.click("#session-filters button[type=submit]")
    page.wait_for_url("**platform=dingtalk**")
    assert "实时更新中" in page.inner_text("#live")
    page.evaluate("window.stillTheSamePage = true")
    row = page.locator(f"#session-rows tr[data-session*='{conversation}']")
    assert row.count() == 0

    _dingtalk_callback(site, QUESTION, conversation, sender)
    row.wait_for(timeout=90_000)  # answered by the gateway's worker, then picked up by the page's next look
    assert page.evaluate("window.stillTheSamePage") is True  # no reload happened
    assert QUESTION in row.inner_text() and conversation in row.inner_text()
    assert "arrived" in (row.get_attribute("class") or "")
    assert row.get_attribute("data-turns") == "1"
    site.dingtalk.wait_for("/robot/send", timeout=60)  # the robot replied in the chat
    browsing.finish("sessions")

    _dingtalk_callback(site, "那退货的条件是什么？", conversation, sender)
    page.wait_for_selector(f"#session-rows tr[data-session*='{conversation}'][data-turns='2']", timeout=90_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "那退货的条件是什么？" in row.inner_text()

    row.locator("a.session-link").click()
    page.wait_for_selector("#turns")
    assert "im:dingtalk" in page.inner_text("#session-facts") and conversation in page.inner_text("#session-facts")
    turns = page.locator("#turns > li.turn")
    assert turns.count() == 2
    assert QUESTION in turns.nth(0).inner_text() and "三到七个工作日" in turns.nth(0).inner_text()
    page.click("#t1-trace-stages > summary")
    page.click("#t1-stage-fused > summary")
    assert "refunds" in page.inner_text("#t1-stage-fused")
    page.click("#t1-trace-timings > summary")
    assert "total" in page.inner_text("#t1-trace-timings")
    page.evaluate("window.scrollTo(0, 0)")
    browsing.finish("session")


def test_a_knowledge_manager_sees_the_sessions_of_their_department_only(site, browsing):
    questions = {}
    for department in ("finance", "sales"):
        key = site.api.post("/v1/keys", json={"role": "agent", "departments": [department],
                                              "name": f"{department} desk"}).json()["key"]
        questions[department] = f"{department} 同事问：{QUESTION} ({uuid.uuid4().hex[:4]})"
        asked = site.api.post("/v1/ask", json={"question": questions[department], "conversation_id": "desk"},
                              headers={"Authorization": f"Bearer {key}"})
        assert asked.status_code == 200, asked.text
    sales_session = next(s for s in site.api.get("/v1/sessions", params={"department": "sales"}).json()["sessions"]
                         if s["last_question"] == questions["sales"])

    page = browsing.page
    browsing.sign_in(*MANAGER)
    page.click("nav.sidebar a:text-is('实时会话')")
    page.wait_for_selector("#session-table")
    board = page.inner_text("#session-rows")
    assert questions["finance"] in board and questions["sales"] not in board
    page.locator("#session-rows tr", has_text=questions["finance"]).locator("a.session-link").click()
    page.wait_for_selector("#turns")
    assert questions["finance"] in page.inner_text("#turns")

    response = browsing.go(f"/console/sessions/{quote(sales_session['id'], safe='')}")
    assert response.status == 404 and "会话不存在" in page.inner_text("h1")
    browsing.go("/console/sessions?department=sales")
    assert questions["sales"] not in page.inner_text("#session-rows")
    assert [o for o in page.locator("select[name=department] option").all_inner_texts() if o != "全部"] == ["finance"]
    assert browsing.go("/console/kbs/sales").status == 404  # nor the department's knowledge
    assert browsing.foreign_requests() == []
