"""Follow-ups in a conversation are answered as the standalone question they stand for."""

from __future__ import annotations

import pytest


def test_topic_switch_follow_up_is_rewritten_and_answered_from_the_new_topic(demo_services):
    pipeline = demo_services.default_pipeline
    first = pipeline.ask("电子发票怎么开？", conversation_id="t:chat1:alice")
    assert "e-invoice" in {c.doc_id for c in first.citations}
    follow = pipeline.ask("那退款呢？", conversation_id="t:chat1:alice")
    assert follow.trace.rewritten and "退款" in follow.trace.rewritten and "发票" not in follow.trace.rewritten
    assert any(n.startswith("rewrite: topic switch") for n in follow.trace.notes)
    assert not follow.refused
    assert {c.doc_id for c in follow.citations} & {"returns-refunds", "payment-issues", "faq"}


@pytest.mark.parametrize("first, standalone", [
    ("电子发票怎么开？", "退款怎么办理？"),
    ("确认收货后多久能开出电子发票？", "退款一般多久？"),
])
def test_refunds_after_an_invoice_question_are_answered_for_refunds_in_general(demo_services, first, standalone):
    pipeline = demo_services.default_pipeline
    conversation = f"t:chat2:{first}"
    pipeline.ask(first, conversation_id=conversation)
    follow = pipeline.ask("那退款呢？", conversation_id=conversation)
    assert follow.trace.rewritten == standalone, "neither the invoice's verb nor its condition is inherited"
    assert not follow.refused
    assert "因支付渠道而异" in follow.answer or "取决于支付渠道" in follow.answer, follow.answer
    assert "微信零钱" not in follow.answer, "one payment channel's case is not given as the rule for every refund"


def test_the_same_follow_up_without_a_conversation_is_not_rewritten(demo_services):
    answer = demo_services.default_pipeline.ask("那退款呢？")
    assert answer.trace.rewritten is None


def test_conversations_of_two_users_in_one_group_do_not_mix(demo_services):
    pipeline = demo_services.default_pipeline
    pipeline.ask("会员积分什么时候过期？", conversation_id="t:group:bob")
    pipeline.ask("退货运费谁出", conversation_id="t:group:carol")
    follow = pipeline.ask("那要多久？", conversation_id="t:group:bob")
    assert "积分" in (follow.trace.rewritten or ""), follow.trace.rewritten
    assert "退货" not in (follow.trace.rewritten or "")


def test_api_ask_with_conversation_id_uses_memory(tmp_path):
    from fastapi.testclient import TestClient

    from assistant.app.api import create_app
    from tests.conftest import as_admin, make_settings

    settings = make_settings(tmp_path / "data")
    app = create_app(settings, load_demo=True)
    with TestClient(app) as client:
        as_admin(client, settings)
        client.post("/v1/ask", json={"question": "金卡会员有什么权益", "conversation_id": "c1"})
        body = client.post("/v1/ask", json={"question": "银卡呢", "conversation_id": "c1"}).json()
        assert "银卡" in body["trace"]["rewritten"]
        assert "membership-points" in {c["doc_id"] for c in body["citations"]}
