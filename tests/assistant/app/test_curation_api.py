"""Documents, feedback and curation over HTTP, on the real app: disabling keeps a document out of every
answer until it is enabled, every change is in its history with who made it, listings page and count,
votes only on answers one may see, and a down-voted question curated by a knowledge manager is answered
from the curated entry next time, its citation naming the author."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from tests.conftest import as_admin, make_settings

SOP = """# 电子发票开具规范
版本：V3.2
## 一、开票时间
确认收货后48小时内开具电子发票，发送至下单邮箱。
## 二、专票
增值税专用发票需要提交税号和开户行信息，审核后3个工作日内寄出。
""".encode()
FAQ = "问题,答案\n运费险怎么理赔？,签收后7天内在订单详情页申请，理赔款原路退回。\n".encode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("curation"), models={"reranker": "none"})
    application = create_app(settings)
    with TestClient(application) as client:
        as_admin(client, settings)
        for department in ("finance", "sales"):
            assert client.post("/v1/departments", json={"name": department}).status_code == 201
        for kb, department in (("fin", "finance"), ("sal", "sales"), ("docs", None)):
            assert client.post("/v1/kbs", json={"name": kb, "department": department}).status_code == 201
        assert client.post("/v1/users", json={"username": "wang", "password": "wang-password", "display_name": "王会计",
                                              "role": "knowledge_manager", "departments": ["finance"]}).status_code == 201
        yield application, client


def keyed(app, role: str, departments: list[str] | None = None) -> TestClient:
    _, key = app.state.services.auth.create_key(role, departments=departments or [])
    return TestClient(app, headers={"Authorization": f"Bearer {key}"})


def signed_in(app, username: str, password: str) -> TestClient:
    browser = TestClient(app)
    assert browser.post("/v1/auth/login", json={"username": username, "password": password}).status_code == 200
    return browser


def upload(client, kb: str, files: dict[str, bytes], **fields) -> dict:
    response = client.post(f"/v1/kbs/{kb}/documents", files=[("files", (n, b)) for n, b in files.items()], data=fields)
    assert response.status_code == 202, response.text
    for _ in range(600):
        job = client.get(response.json()["status_url"]).json()
        if job["status"] in ("done", "failed"):
            assert all(f["status"] != "failed" for f in job["files"]), job
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def cited(answer: dict) -> set[str]:
    stages = answer["trace"]["stages"]
    return {c["doc_id"] for c in answer["citations"]} | {h["doc_id"] for hits in stages.values() for h in hits}


def test_a_disabled_document_is_in_no_answer_until_it_is_enabled_again(app):
    _, admin = app
    upload(admin, "docs", {"e-invoice.md": SOP, "freight.csv": FAQ})
    question = {"question": "电子发票多久开具？", "kb": "docs"}
    before = admin.post("/v1/ask", json=question).json()
    assert "e-invoice" in {c["doc_id"] for c in before["citations"]}
    assert admin.post("/v1/ask", json={"question": "运费险怎么理赔？", "kb": "docs"}).json()["trace"]["faq_match"]

    for doc_id in ("e-invoice", "freight"):
        changed = admin.patch(f"/v1/kbs/docs/documents/{doc_id}", json={"disabled": True})
        assert changed.status_code == 200 and changed.json()["disabled"] is True and changed.json()["chunks"] > 0
    hidden = admin.post("/v1/ask", json=question).json()
    assert hidden["refused"] and not cited(hidden) and "电子发票开具规范" not in hidden["answer"]  # no nearest topic
    faq = admin.post("/v1/ask", json={"question": "运费险怎么理赔？", "kb": "docs"}).json()
    assert faq["trace"]["faq_match"] is None and "freight" not in cited(faq)
    listed = admin.get("/v1/kbs/docs/documents", params={"status": "disabled"}).json()
    assert listed["total"] == 2, "a disabled document stays listed"

    assert admin.patch("/v1/kbs/docs/documents/e-invoice", json={"disabled": False}).json()["disabled"] is False
    back = admin.post("/v1/ask", json=question).json()
    assert not back["refused"] and "e-invoice" in {c["doc_id"] for c in back["citations"]}
    assert admin.patch("/v1/kbs/docs/documents/nope", json={"disabled": True}).status_code == 404
    actions = {e["action"] for e in admin.get("/v1/audit", params={"kind": "admin", "kb": "docs"}).json()["entries"]}
    assert {"document.disable", "document.enable"} <= actions


def test_every_change_of_a_document_is_in_its_history_with_who_made_it(app):
    application, admin = app
    manager = signed_in(application, "wang", "wang-password")
    upload(manager, "fin", {"invoice-rules.md": SOP})
    upload(manager, "fin", {"invoice-rules.md": SOP.replace(b"48", b"24")})
    assert admin.patch("/v1/kbs/fin/documents/invoice-rules", json={"disabled": True}).status_code == 200
    assert manager.delete("/v1/kbs/fin/documents/invoice-rules").status_code == 200
    history = manager.get("/v1/kbs/fin/documents/invoice-rules/versions").json()
    admin_id = admin.get("/v1/me").json()["id"]
    assert [(v["action"], v["by"]) for v in history] == [
        ("added", "user:wang"), ("replaced", "user:wang"), ("disabled", admin_id), ("deleted", "user:wang")]
    assert history[0]["version"] == "V3.2" and history[0]["source"] == "invoice-rules.md"
    assert history[0]["chunk_count"] > 0 and history[0]["content_hash"] != history[1]["content_hash"]
    # another department's document history does not exist for a sales agent
    assert keyed(application, "agent", ["sales"]).get("/v1/kbs/fin/documents/invoice-rules/versions").status_code == 404


def test_documents_are_searched_paged_and_counted_and_their_chunks_paged(app):
    application, admin = app
    upload(admin, "sal", {"退货规范.md": "# 退货规范\n## 一、时限\n签收后7天内可无理由退货。\n".encode(),
                          "invoice-guide.md": SOP, "shipping.md": "# Shipping\nParcels leave within 24 hours.\n".encode()},
           owner="销售部")
    first = admin.get("/v1/kbs/sal/documents", params={"limit": 2}).json()
    assert first["total"] == 3 and len(first["documents"]) == 2 and (first["offset"], first["limit"]) == (0, 2)
    rest = admin.get("/v1/kbs/sal/documents", params={"offset": 2, "limit": 2}).json()
    assert len(rest["documents"]) == 1
    assert {d["id"] for d in first["documents"] + rest["documents"]} == {"退货规范", "invoice-guide", "shipping"}
    assert [d["id"] for d in admin.get("/v1/kbs/sal/documents", params={"q": "退货"}).json()["documents"]] == ["退货规范"]
    assert admin.get("/v1/kbs/sal/documents", params={"q": "销售"}).json()["total"] == 3  # the owner
    assert admin.get("/v1/kbs/sal/documents", params={"q": "SHIPPING"}).json()["total"] == 1
    assert admin.get("/v1/kbs/sal/documents", params={"status": "enabled"}).json()["total"] == 3
    assert admin.get("/v1/kbs/sal/documents", params={"limit": 501}).status_code == 422
    first_chunks = admin.get("/v1/kbs/sal/documents/invoice-guide/chunks", params={"limit": 1}).json()
    total = first_chunks["total"]
    assert total >= 2 and len(first_chunks["chunks"]) == 1
    pages = [admin.get("/v1/kbs/sal/documents/invoice-guide/chunks", params={"offset": n, "limit": 1}).json()["chunks"][0]
             for n in range(total)]
    assert [c["ordinal"] for c in pages] == sorted(c["ordinal"] for c in pages)
    timing = next(c for c in pages if "一、开票时间" in c["section"])
    assert timing["kind"] == "text" and "48小时" in timing["text"] and set(timing) >= {"page", "question", "id"}
    assert keyed(application, "agent", ["finance"]).get("/v1/kbs/sal/documents").status_code == 404


def test_only_who_may_see_an_answer_votes_on_it_and_a_second_vote_replaces_the_first(app):
    application, admin = app
    upload(admin, "fin", {"vat.md": SOP})
    asker = keyed(application, "customer")
    other_customer = keyed(application, "customer")
    sales_agent = keyed(application, "agent", ["sales"])
    finance_agent = keyed(application, "agent", ["finance"])
    answer = asker.post("/v1/ask", json={"question": "专票多久寄出？"}).json()
    answer_id = answer["answer_id"]
    assert answer_id is not None
    vote = {"answer_id": answer_id, "vote": "up"}
    assert asker.post("/v1/feedback", json=vote).json()["replaced"] is False
    assert other_customer.post("/v1/feedback", json=vote).status_code == 404
    assert asker.post("/v1/feedback", json={**vote, "answer_id": 10**9}).status_code == 404
    # the customer's question searched only open knowledge bases: staff who read them may vote
    assert finance_agent.post("/v1/feedback", json=vote).status_code == 200
    staff_answer = finance_agent.post("/v1/ask", json={"question": "专票多久寄出？", "kb": "fin"}).json()
    assert sales_agent.post("/v1/feedback", json={**vote, "answer_id": staff_answer["answer_id"]}).status_code == 404
    assert admin.post("/v1/feedback", json={**vote, "answer_id": staff_answer["answer_id"]}).status_code == 200
    again = asker.post("/v1/feedback", json={**vote, "vote": "down", "comment": "没说清楚"})
    assert again.json()["replaced"] is True
    votes = application.state.services.feedback.votes(answer_id)
    assert len(votes) == 2 and {v.vote for v in votes} == {"down", "up"}


def test_a_down_voted_question_curated_by_a_knowledge_manager_is_answered_from_the_entry(app):
    application, admin = app
    manager = signed_in(application, "wang", "wang-password")
    agent = keyed(application, "agent", ["finance"])
    question = "发票抬头开错了可以重开吗？"
    first = agent.post("/v1/ask", json={"question": question, "kb": "fin"}).json()
    agent.post("/v1/feedback", json={"answer_id": first["answer_id"], "vote": "down", "comment": "答非所问"})
    open_gaps = manager.get("/v1/gaps").json()["gaps"]
    [gap] = [g for g in open_gaps if g["question"] == question]
    assert gap["kbs"] == ["fin"] and gap["reason"] in ("refused", "downvoted")

    entry = "可以。在订单详情页申请换开，填写正确的抬头，24小时内重新开具。"
    curated = manager.post(f"/v1/gaps/{gap['id']}/curate", json={"kb": "fin", "question": question, "answer": entry})
    assert curated.status_code == 201, curated.text
    assert curated.json()["gap"]["status"] == "curated" and curated.json()["entry"]["curated_by"] == "王会计"
    assert manager.post(f"/v1/gaps/{gap['id']}/curate",
                        json={"kb": "fin", "question": question, "answer": entry}).status_code == 409

    again = agent.post("/v1/ask", json={"question": question, "kb": "fin"}).json()
    assert not again["refused"] and again["trace"]["faq_match"] and "24小时内重新开具" in again["answer"]
    [citation] = again["citations"]
    assert citation["curated_by"] == "王会计" and citation["doc_id"] == curated.json()["entry"]["doc_id"]
    chat = agent.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}).json()
    assert "人工整理 · 王会计" in chat["choices"][0]["message"]["content"]

    doc_id = citation["doc_id"]
    history = manager.get(f"/v1/kbs/fin/documents/{doc_id}/versions").json()
    assert [(v["action"], v["by"]) for v in history] == [("added", "user:wang")]
    rewritten = manager.put(f"/v1/kbs/fin/curated/{doc_id}", json={"question": question, "answer": "可以，联系客服换开。"})
    assert rewritten.status_code == 200
    assert "联系客服换开" in agent.post("/v1/ask", json={"question": question, "kb": "fin"}).json()["answer"]
    assert manager.put("/v1/kbs/fin/curated/vat", json={"question": "x", "answer": "y"}).status_code == 404  # not curated
    assert manager.delete(f"/v1/kbs/fin/documents/{doc_id}").status_code == 200
    actions = [e["action"] for e in admin.get("/v1/audit", params={"kind": "admin", "kb": "fin"}).json()["entries"]]
    assert {"gap.curate", "document.curate", "document.delete"} <= set(actions)


def test_a_refusal_opens_a_gap_and_a_knowledge_manager_sees_only_their_departments(app):
    application, admin = app
    manager = signed_in(application, "wang", "wang-password")
    sales_agent = keyed(application, "agent", ["sales"])
    refused = sales_agent.post("/v1/ask", json={"question": "公司年会在哪个城市举办？", "kb": "sal"}).json()
    assert refused["refused"]
    [gap] = [g for g in admin.get("/v1/gaps").json()["gaps"] if g["entry_id"] == refused["answer_id"]]
    assert gap["reason"] == "refused" and gap["departments"] == ["sales"] and gap["kbs"] == ["sal"]
    sales_agent.post("/v1/ask", json={"question": "公司年会在哪个城市举办", "kb": "sal"})  # the same question again
    assert admin.get("/v1/gaps").json()["gaps"][0]["asked"] == 2

    seen = manager.get("/v1/gaps", params={"limit": 500}).json()
    assert gap["id"] not in {g["id"] for g in seen["gaps"]} and seen["total"] == len(seen["gaps"])
    body = {"kb": "fin", "question": "公司年会在哪个城市举办？", "answer": "杭州。"}
    assert manager.post(f"/v1/gaps/{gap['id']}/curate", json=body).status_code == 404
    assert manager.post(f"/v1/gaps/{gap['id']}/dismiss").status_code == 404
    assert sales_agent.get("/v1/gaps").status_code == 403
    sales_manager = keyed(application, "knowledge_manager", ["sales"])
    assert sales_manager.post(f"/v1/gaps/{gap['id']}/curate", json=body).status_code == 404  # fin: not theirs
    dismissed = sales_manager.post(f"/v1/gaps/{gap['id']}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert gap["id"] in {g["id"] for g in sales_manager.get("/v1/gaps", params={"status": "dismissed"}).json()["gaps"]}


def test_an_entry_is_curated_without_a_gap_into_a_knowledge_base_one_may_write(app):
    application, _ = app
    manager = signed_in(application, "wang", "wang-password")
    body = {"question": "报销单找谁签字？", "answer": "部门经理签字后交财务部。"}
    made = manager.post("/v1/kbs/fin/curated", json=body)
    assert made.status_code == 201 and made.json()["curated_by"] == "王会计"
    assert manager.post("/v1/kbs/sal/curated", json=body).status_code == 404  # another department's KB
    assert keyed(application, "agent", ["finance"]).post("/v1/kbs/fin/curated", json=body).status_code == 403
    assert manager.post("/v1/kbs/fin/curated", json={"question": " ", "answer": "x"}).status_code == 400
    listed = manager.get("/v1/kbs/fin/documents", params={"q": "报销单"}).json()["documents"]
    assert [(d["id"], d["curated_by"]) for d in listed] == [(made.json()["doc_id"], "王会计")]
