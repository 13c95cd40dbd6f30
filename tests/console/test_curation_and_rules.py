"""The console's knowledge-curation and routing pages in a real browser: a voted-down answer curated
from the gaps page answers the next ask, a disabled document vanishes from answers (and comes back),
and a routing rule made in the console sends a Feishu group's invoice questions to the finance KB.

Each test adds its own knowledge base or chat, so the other console tests sharing the app see
nothing of it. Screenshots go to docs/screenshots/ (gaps, gap, document-disabled, rules, rule).
"""

from __future__ import annotations

import json

from tests.console.conftest import Site

EXCHANGE_SOP = """# 换货服务说明
版本：V1.0
## 一、换货条件
签收后十五天内，商品存在质量问题可申请换货。
## 二、换货运费
质量问题换货，往返运费由商家承担；非质量问题换货，运费由买家承担。
""".encode()
WARRANTY_SOP = """# 电池保修政策
版本：V3.0
## 一、保修期限
电池自购买之日起保修十二个月，凭发票或订单号享受保修。
""".encode()
INVOICE_SOP = """# 增值税发票开具规范
版本：V1.1
## 一、开票时间
财务部在客户确认收货后三个工作日内开具增值税专用发票，并以快递寄出。
""".encode()


def _kb_with(site: Site, kb: str, name: str, body: bytes, department: str | None = None) -> str:
    """A knowledge base holding one document; returns the document's id."""
    created = site.api.post("/v1/kbs", json={"name": kb, "department": department})
    assert created.status_code in (201, 409), created.text
    job = site.api.post(f"/v1/kbs/{kb}/documents", files=[("files", (name, body))]).json()
    done = site.wait_for_job(job["status_url"])["files"][0]
    assert done["status"] in ("added", "unchanged"), done
    return done["doc_id"]


def _ask(page, question: str, kb: str) -> str:
    page.goto(page.url.split("/console")[0] + "/console/ask")
    page.fill("#question", question)
    page.check(f"input[name=kb][value={kb}]")
    page.click("#ask-submit")
    page.wait_for_selector("#answer")
    return page.inner_text("#answer")


def test_a_voted_down_answer_curated_from_the_gaps_page_answers_the_next_ask_cited_as_curated(site, browsing):
    _kb_with(site, "aftersales", "exchange.md", EXCHANGE_SOP)
    page = browsing.page
    question = "换货的运费由谁来出？"
    browsing.sign_in()
    first = _ask(page, question, "aftersales")
    assert "人工整理" not in first
    page.click("#vote-down")
    page.wait_for_url("**notice=voted_down**")
    assert "知识缺口" in page.inner_text(".notice.ok")

    browsing.go("/console/gaps?reason=downvoted")
    page.wait_for_selector("#gap-table")
    assert question in page.inner_text("#gap-table")
    browsing.finish("gaps")
    page.click(f"#gap-table a:text-is('{question}')")
    page.wait_for_selector("#curate-form")
    page.select_option("#curate-kb", "aftersales")
    curated = "换货运费：质量问题由我们承担往返运费并安排上门取件；非质量问题请买家自付寄回运费。"
    page.fill("#curate-answer", curated)
    page.click("#curate-submit")
    page.wait_for_url("**notice=gap_curated**")
    assert "已整理" in page.inner_text("#gap-status")
    assert "人工整理 · 管理员" in page.inner_text("#curated-entry")
    browsing.finish("gap")

    again = _ask(page, question, "aftersales")
    assert "上门取件" in again
    citations = page.inner_text("#citations")
    assert "人工整理 · 管理员" in citations  # cited as curated, with who wrote it
    assert browsing.foreign_requests() == []


def test_a_disabled_document_vanishes_from_answers_and_comes_back_when_enabled(site, browsing):
    doc_id = _kb_with(site, "warranty", "battery.md", WARRANTY_SOP)
    page = browsing.page
    question = "电池保修多长时间？"
    browsing.sign_in()
    assert "十二个月" in _ask(page, question, "warranty")
    assert "电池保修政策" in page.inner_text("#citations")

    browsing.go(f"/console/kbs/warranty/docs/{doc_id}")
    page.click("#disable-document")
    page.wait_for_url("**notice=document_disabled**")
    assert "已停用" in page.inner_text("#doc-status")
    assert "停用" in page.inner_text("#version-table")  # the history names the change
    browsing.finish("document-disabled")
    browsing.go("/console/kbs/warranty?status=disabled")
    assert "电池保修政策" in page.inner_text("#doc-table") and "已停用" in page.inner_text("#doc-table")

    gone = _ask(page, question, "warranty")
    assert "十二个月" not in gone and page.locator("#citations").count() == 0

    browsing.go(f"/console/kbs/warranty/docs/{doc_id}")
    page.click("#enable-document")
    page.wait_for_url("**notice=document_enabled**")
    assert "十二个月" in _ask(page, question, "warranty")
    assert "电池保修政策" in page.inner_text("#citations")

    # replacing it with a new version: the history gains the change, answers follow the new text
    browsing.go(f"/console/kbs/warranty/docs/{doc_id}")
    newer = WARRANTY_SOP.replace("V3.0".encode(), "V3.1".encode()).replace("十二个月".encode(), "十八个月".encode())
    page.set_input_files("#replace-file", files=[{"name": "battery.md", "mimeType": "text/markdown", "buffer": newer}])
    page.fill("#replace-form input[name=version]", "V3.1")
    page.click("#replace-submit")
    page.wait_for_url("**notice=replace_queued**")
    for _ in range(300):
        if "替换" in page.inner_text("#version-table"):
            break
        page.wait_for_timeout(200)
        page.reload()
    assert "V3.1" in page.inner_text("#version-table")
    assert "十八个月" in _ask(page, question, "warranty")


def _feishu_event(text: str, chat: str, event_id: str) -> dict:
    """A Feishu group message that @-mentions the bot, as the platform posts it."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "token": "t", "app_id": "cli_x"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_zhao"}, "sender_type": "user"},
            "message": {"message_id": f"om_{event_id}", "chat_id": chat, "chat_type": "group", "message_type": "text",
                        "content": json.dumps({"text": f"@_user_1 {text}"}, ensure_ascii=False),
                        "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "客服助手"}]},
        },
    }


def test_a_rule_made_in_the_console_sends_a_groups_invoice_questions_to_the_finance_kb(site, browsing):
    chat = "oc_finance_ops"
    _kb_with(site, "finance", "invoice-rules.md", INVOICE_SOP, department="finance")
    # The group's members are finance staff (the IM rule says who they are; a routing rule never widens access).
    bound = site.api.post("/v1/im-rules", json={"platform": "feishu", "chat_id": chat, "role": "agent",
                                                "department": "finance", "note": "finance ops group"})
    assert bound.status_code == 201, bound.text
    question = "发票什么时候开？"

    def replay(event_id: str) -> dict:
        sent = site.api.post("/v1/replay", json={"platform": "feishu", "payload": _feishu_event(question, chat, event_id)})
        assert sent.status_code == 200, sent.text
        assert sent.json()["decision"] == "answered"
        return sent.json()["answer"]

    before = replay("ev-rule-before")
    assert before["trace"]["rule"] is None and set(before["trace"]["kb_ids"]) != {"finance"}

    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/admin/rules")
    page.click("#new-rule > summary")
    page.fill("#rule-name", "财务群发票问题")
    page.fill("input[name=position]", "1")
    page.fill("#rule-keywords", "发票")
    page.fill("#rule-chats", chat)
    page.check("#rule-form input[name=platforms][value=feishu]")
    page.check("#rule-form input[name=kbs][value=finance]")
    page.click("#rule-create")
    page.wait_for_url("**notice=rule_created**")
    assert "v1" in page.inner_text("#rule-history") and "创建" in page.inner_text("#rule-history")
    rule_id = int(page.url.split("/console/admin/rules/")[1].split("?")[0])
    browsing.finish("rule")

    browsing.go("/console/admin/rules")
    page.fill("#test-question", question)
    page.select_option("#test-platform", "feishu")
    page.fill("#test-chat", chat)
    page.click("#test-submit")
    page.wait_for_selector("#trial-result")
    assert "财务群发票问题" in page.inner_text("#trial-rule") and page.inner_text("#trial-kbs") == "finance"
    browsing.finish("rules")

    after = replay("ev-rule-after")
    assert after["trace"]["rule"]["id"] == rule_id and after["trace"]["kb_ids"] == ["finance"]
    assert "三个工作日" in after["answer"]
    assert {c["title"] for c in after["citations"]} == {"增值税发票开具规范"}
    entry = site.api.get("/v1/audit", params={"channel": "replay:feishu", "limit": 1}).json()["entries"][0]
    assert entry["question"] == question and "财务群发票问题" in (entry["rule"] or "")

    # another group's invoice question is not this rule's
    other = site.api.post("/v1/rules/test", json={"question": question, "platform": "feishu", "chat_id": "oc_sales"})
    assert (other.json()["rule"] or {}).get("id") != rule_id
