"""The seeds' scenario end to end on the demo: a customer asks whether the invoice for an order is out.

"@AI助手 我昨天下的订单20240521-8892，发票开了吗？" must give the invoice status from the ERP and the
invoicing rule from the SOP (`e-invoice`), both cited - without a model (rules + extractive) and with
one (function calling + generation, here the fake endpoint).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.app.erp_demo.service import (
    BackgroundServer,
    create_erp_app,
    open_demo_store,
)
from assistant.pipeline import Pipeline
from assistant.tools.base import Caller

QUESTION = "@AI助手 我昨天下的订单20240521-8892，发票开了吗？"
SEED = Path(__file__).resolve().parents[3] / "data" / "erp" / "orders.json"
TOKEN = "acceptance-token"


@pytest.fixture(scope="module")
def erp_url(tmp_path_factory):
    store = open_demo_store(tmp_path_factory.mktemp("erp"), SEED)
    server = BackgroundServer(create_erp_app(store, TOKEN))
    yield server.start()
    server.stop()
    store.close()


def pipeline_for(services, **groups) -> Pipeline:
    """The demo's retrieval with answering and tools built from these settings (no memory)."""
    variant = services.variant(**groups)
    return Pipeline(services.catalog, services.retriever(), services.reranker, variant.answer_chain,
                    tools=variant.tool_stage)


def erp_settings(url: str, *, llm: str | None = None, stream: bool = True, **more) -> dict:
    groups = {"erp": {"base_url": url, "token": SecretStr(TOKEN), "retries": 0}, **more}
    if llm:
        from assistant.app.settings import LLMBackend

        groups["llm"] = {"backends": [LLMBackend(base_url=llm, stream=stream)]}
    return groups


def test_without_a_model_the_rules_look_up_the_order_and_the_sop_explains_it(demo_services, erp_url):
    answer = pipeline_for(demo_services, **erp_settings(erp_url)).ask(QUESTION)
    assert not answer.refused
    erp, *rest = answer.citations
    assert (erp.n, erp.doc_id, erp.title) == (1, "erp:order:20240521-8892", "ERP 订单系统")
    assert erp.section.startswith("查询于 ") and "发票状态：未开具" in erp.quote
    sop = [c for c in rest if c.doc_id == "e-invoice"]
    assert sop and "确认收货后24小时内" in sop[0].quote and sop[0].version == "V3.2"
    assert "[1]" in answer.answer and f"[{sop[0].n}]" in answer.answer and "还没有开具" in answer.answer
    [call] = answer.trace.tool_calls
    assert call.name == "lookup_order" and call.arguments == {"order_no": "20240521-8892", "topic": "invoice"}
    assert call.error is None and answer.trace.rewritten == "确认收货后多久开具发票"


def test_with_a_model_function_calling_looks_up_the_order_and_the_answer_cites_both(demo_services, erp_url, fake_llm):
    fake_llm.mode = "tools"
    fake_llm.tool_calls = [{"name": "lookup_order", "arguments": '{"order_no": "20240521-8892", "topic": "invoice"}'}]
    fake_llm.prefer, fake_llm.keywords = ["电子发票开具管理规范"], ["发票状态", "普票在"]
    pipeline = pipeline_for(demo_services, **erp_settings(erp_url, llm=fake_llm.url, stream=True))
    answer = pipeline.ask(QUESTION)

    assert [r.get("tools") is not None for r in fake_llm.requests] == [True, False]  # route, then answer
    assert any("function calling" in n for n in answer.trace.notes)
    assert any("answered by LLM backend 'primary'" in n for n in answer.trace.notes)
    assert [c.doc_id for c in answer.citations] == ["erp:order:20240521-8892", "e-invoice"]
    assert answer.answer.startswith("发票状态：未开具（已申请，待开具）[1]。普票在")
    assert answer.answer.endswith("[2]。")


def test_in_a_customer_facing_group_the_sources_show_no_personal_data(demo_services, erp_url):
    pipeline = pipeline_for(demo_services, **erp_settings(erp_url, audience={"groups": {"feishu:oc_after_sales": "customer"}}))
    caller = Caller(platform="feishu", chat_id="oc_after_sales", user_id="ou_42", role=None)
    answer = pipeline.ask("订单20240521-8892的发票开了吗，快递到哪了", caller=caller)
    shown = answer.model_dump_json()
    for secret in ("13812345678", "xiaoyu.zhang@example.com", "张江路", "C10086"):
        assert secret not in shown
    assert {c.arguments["topic"] for c in answer.trace.tool_calls} == {"invoice", "shipping"}


def test_when_the_erp_is_down_the_rule_is_still_given_and_the_reader_is_told(demo_services):
    answer = pipeline_for(demo_services, **erp_settings("http://127.0.0.1:9")).ask(QUESTION)
    assert "订单系统暂时查询不到" in answer.answer
    assert "unavailable" in answer.trace.tool_calls[0].error
    assert all(not c.doc_id.startswith("erp:") for c in answer.citations)


def test_a_knowledge_base_question_costs_one_model_call_and_no_lookup(demo_services, erp_url, fake_llm):
    fake_llm.prefer = ["电子发票开具管理规范"]
    pipeline = pipeline_for(demo_services, **erp_settings(erp_url, llm=fake_llm.url))
    answer = pipeline.ask("电子发票怎么开？")
    assert len(fake_llm.requests) == 1 and "tools" not in fake_llm.requests[0]
    assert answer.trace.tool_calls == [] and not answer.refused and answer.citations


# -- order intents and unknown orders, without a model (rules + extractive) ------------------------
@pytest.mark.parametrize(
    "question, topic, says",
    [
        ("20240521-8892这单能退吗", "return", ["拒收", "签收后申请退货"]),
        ("帮我把20240501-0420取消了，还没发货呢", "cancel", ["可自助取消", "退款立即发起"]),
        ("20240521-8892 我搬家了 收货地址还能改吗", "address", ["同城改派", "联系承运商"]),
        ("can I cancel order 20240521-8892?", "cancel", ["不可取消"]),
    ],
)
def test_an_order_intent_is_answered_from_the_erp_and_the_rule_for_that_status(
    demo_services, erp_url, question, topic, says
):
    answer = pipeline_for(demo_services, **erp_settings(erp_url)).ask(question)
    [call] = answer.trace.tool_calls
    assert call.name == "lookup_order" and call.arguments["topic"] == topic and call.error is None
    assert answer.citations[0].doc_id.startswith("erp:order:") and not answer.refused
    assert all(s in answer.answer for s in says), answer.answer
    assert {c.doc_id for c in answer.citations[1:]} <= {"order-change-cancel", "logistics-delivery", "returns-refunds"}


def test_an_unknown_order_is_said_first_and_nothing_unrelated_follows(demo_services, erp_url):
    pipeline = pipeline_for(demo_services, **erp_settings(erp_url))
    status = pipeline.ask("20240621-5566 这单啥时候发货")
    assert status.answer.startswith("没有查到这个订单号（20240621-5566）对应的订单") and not status.refused
    assert status.answer.count("没有查到") == 1
    assert status.citations[0].doc_id == "erp:order:20240621-5566"
    cancel = pipeline.ask("20240521-8829能取消吗")
    assert cancel.answer.startswith("没有查到这个订单号（20240521-8829）")
    assert {c.doc_id for c in cancel.citations[1:]} == {"order-change-cancel"}, "the cancel rule, and no invoice text"
    invoice = pipeline.ask("20240599-0001 发票开了吗")  # a mistyped date is still an order number
    assert invoice.answer.startswith("没有查到这个订单号（20240599-0001）")
    assert {c.doc_id for c in invoice.citations[1:]} == {"e-invoice"} and "确认收货后24小时内" in invoice.answer


def test_an_unknown_order_is_said_first_in_english(demo_services, erp_url):
    answer = pipeline_for(demo_services, **erp_settings(erp_url)).ask("Where is my order 20240621-5566?")
    assert answer.answer.startswith("No order with the number 20240621-5566 was found") and not answer.refused


# -- a conversation about an order -----------------------------------------------------------------
def conversation_pipeline_for(services, **groups) -> Pipeline:
    """Like `pipeline_for`, with the demo's conversation memory."""
    variant = services.variant(**groups)
    return Pipeline(services.catalog, services.retriever(), services.reranker, variant.answer_chain,
                    tools=variant.tool_stage, memory=services.memory)


def test_a_follow_up_after_a_tracking_number_looks_up_the_order_named_earlier(demo_services, erp_url):
    pipeline = conversation_pipeline_for(demo_services, **erp_settings(erp_url))
    chat = "t:acceptance:tracking"
    pipeline.ask("我的订单20240521-8892到哪了", conversation_id=chat)
    pipeline.ask("快递单号是SF1402337788115吧 怎么一直在转运中心", conversation_id=chat)
    answer = pipeline.ask("这个订单还能取消吗", conversation_id=chat)
    [call] = answer.trace.tool_calls
    assert call.arguments == {"order_no": "20240521-8892", "topic": "cancel"} and call.error is None
    assert "不可取消" in answer.answer and "拒收" in answer.answer
