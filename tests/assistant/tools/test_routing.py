"""Which tools a message needs: by rules without a model, by function calling with one; every call traced."""

from __future__ import annotations

import pytest

from assistant.answer.llm import Completion, LLMUnavailable, RequestedCall
from assistant.domain import Turn
from assistant.tools.audience import AudienceRules
from assistant.tools.base import Caller, ToolRegistry
from assistant.tools.orders import ListOrdersTool, OrderLookupTool
from assistant.tools.routing import (
    FunctionCallingRouter,
    RuleRouter,
    might_need_orders,
    order_numbers,
)
from assistant.tools.stage import ToolStage, knowledge_query


@pytest.fixture
def registry(erp, clock):
    return ToolRegistry([OrderLookupTool(erp, clock=clock), ListOrdersTool(erp, clock=clock)])


def planned(router, question, caller=Caller()):
    return [(c.name, c.arguments) for c in router.plan(question, caller).calls]


@pytest.mark.parametrize(
    "question, topic",
    [
        ("@AI助手 我昨天下的订单20240521-8892，发票开了吗？", "invoice"),
        ("20240521-8892 快递到哪了", "shipping"),
        ("订单２０２４０５２１－８８９２物流怎么还没到", "shipping"),  # full-width digits and dash
        ("202405218892的退款什么时候到账", "refund"),  # no dash
        ("Where is my order 20240521-8892? any tracking?", "shipping"),
        ("Has the invoice for 20240521-8892 been issued?", "invoice"),
        ("帮我查一下订单 20240521-8892 的状态", "status"),
    ],
)
def test_rules_pick_an_order_lookup_from_the_number_and_the_intent_words(registry, question, topic):
    assert planned(RuleRouter(registry), question) == [("lookup_order", {"order_no": "20240521-8892", "topic": topic})]


def test_rules_make_no_call_without_an_order_number(registry):
    router = RuleRouter(registry)
    assert planned(router, "电子发票怎么开？") == []
    assert planned(router, "我的手机号13812345678发票开了吗") == []


def test_an_order_number_without_a_recognised_intent_looks_up_the_status(registry):
    router = RuleRouter(registry)
    assert planned(router, "20240521-8892") == [("lookup_order", {"order_no": "20240521-8892", "topic": "status"})]
    plan = router.plan("订单20240518-3310的空气净化器保修期从哪天开始算", Caller())
    assert [c.arguments["topic"] for c in plan.calls] == ["status"]
    assert any("no recognised intent" in n for n in plan.notes)


@pytest.mark.parametrize(
    "question, topic",
    [
        ("20240521-8892这单能退吗", "return"),
        ("20240510-1207 退回去的毛巾仓库收到没有", "return"),
        ("20240518-3310 现在想七天无理由退货还行吗", "return"),
        ("帮我把20240501-0420取消了，还没发货呢", "cancel"),  # "还没发货" is what it says, not a second question
        ("20240501-0420 不要了", "cancel"),
        ("20240521-8892 地址写错了", "address"),
        ("20240521-8892 我搬家了 收货地址还能改吗", "address"),
        ("can I cancel order 20240521-8892", "cancel"),
        ("I want to return order 20240518-3310", "return"),
        ("Can I change the address of order 20240501-0420?", "address"),
    ],
)
def test_rules_plan_a_lookup_for_return_cancel_and_address_intents(registry, question, topic):
    [(name, arguments)] = planned(RuleRouter(registry), question)
    assert name == "lookup_order" and arguments["topic"] == topic


@pytest.mark.parametrize("text", [
    "快递单号是SF1402337788115吧", "JDV009912345678那个已经签收了", "我手机号13812345678", "发票号码202405218892",
    "运单号：202405218892", "2024052188921",
])
def test_tracking_phone_and_invoice_numbers_are_not_order_numbers(text):
    assert order_numbers(text) == []


def test_order_numbers_tolerate_full_width_digits_and_a_missing_dash_and_keep_mistyped_dates():
    assert order_numbers("订单２０２４０５２１－８８９２") == ["20240521-8892"]
    assert order_numbers("202405218892的退款") == ["20240521-8892"]
    assert order_numbers("20240599-0001 发票开了吗") == ["20240599-0001"]  # the ERP will say it does not exist


def test_rules_ask_about_each_topic_and_each_order_mentioned(registry):
    calls = planned(RuleRouter(registry), "20240521-8892 和 20240518-3310 的发票开了吗，物流到哪了")
    assert len(calls) == 4 and {c[1]["topic"] for c in calls} == {"invoice", "shipping"}


def test_rules_list_my_orders_only_for_a_linked_customer(registry):
    router = RuleRouter(registry)
    assert planned(router, "看看我的订单", Caller(customer_id="C10086")) == [("list_orders", {})]
    assert planned(router, "看看我的订单") == []


def test_order_numbers_are_found_once_each():
    assert order_numbers("20240521-8892，再说一次 20240521-8892") == ["20240521-8892"]


class ScriptedModel:
    def __init__(self, calls=None, error=None):
        self.calls, self.error, self.seen = calls or [], error, []

    def __call__(self, messages, *, tools=None):
        self.seen.append((messages, tools))
        if self.error:
            raise self.error
        return Completion(text="", tool_calls=self.calls)


def test_function_calling_offers_the_tools_and_runs_what_the_model_asks(registry):
    model = ScriptedModel([RequestedCall("lookup_order", '{"order_no": "20240521-8892", "topic": "invoice"}')])
    router = FunctionCallingRouter(registry, model, RuleRouter(registry))
    assert planned(router, "订单20240521-8892发票开了吗") == [
        ("lookup_order", {"order_no": "20240521-8892", "topic": "invoice"})
    ]
    messages, tools = model.seen[0]
    assert [t["function"]["name"] for t in tools] == ["lookup_order", "list_orders"]
    assert messages[-1] == {"role": "user", "content": "订单20240521-8892发票开了吗"}


def test_function_calling_ignores_invented_order_numbers_and_unknown_tools(registry):
    model = ScriptedModel([
        RequestedCall("lookup_order", '{"order_no": "20240101-0001"}'),
        RequestedCall("drop_tables", "{}"),
        RequestedCall("lookup_order", "{not json"),
    ])
    plan = FunctionCallingRouter(registry, model, RuleRouter(registry)).plan("我的发票开了吗", Caller())
    assert plan.calls == []
    assert any("nobody mentioned" in n for n in plan.notes) and any("unknown tool" in n for n in plan.notes)


def test_function_calling_is_not_asked_when_no_tool_could_apply(registry):
    model = ScriptedModel([RequestedCall("list_orders", "{}")])
    router = FunctionCallingRouter(registry, model, RuleRouter(registry), worth_asking=might_need_orders)
    assert router.plan("电子发票怎么开？", Caller()).calls == [] and model.seen == []
    router.plan("它到哪了", Caller(), history=[Turn("user", "订单20240521-8892")])  # said earlier in the chat
    assert len(model.seen) == 1


def test_function_calling_falls_back_to_rules_when_no_model_answers(registry):
    model = ScriptedModel(error=LLMUnavailable("primary", "cannot reach"))
    plan = FunctionCallingRouter(registry, model, RuleRouter(registry)).plan("20240521-8892发票开了吗", Caller())
    assert [c.name for c in plan.calls] == ["lookup_order"]
    assert "rules decide" in plan.notes[0]


def test_stage_traces_every_call_and_masks_for_customer_groups(registry, erp):
    stage = ToolStage(registry, RuleRouter(registry), AudienceRules(groups={"feishu:oc_1": "customer"}))
    owner = Caller(platform="feishu", chat_id="oc_1", role="staff", customer_id="C10086")
    outcome = stage.run("20240521-8892 物流到哪了", owner)
    [call] = outcome.calls
    assert call.name == "lookup_order" and call.error is None and call.ms >= 0
    assert "138****5678" in call.result and "13812345678" not in call.result
    assert knowledge_query("20240521-8892 物流到哪了", outcome.results) == outcome.results[0].kb_query


def test_stage_reports_failures_without_internals(registry, erp):
    stage = ToolStage(registry, RuleRouter(registry), AudienceRules())
    erp.down = True
    down = stage.run("20240521-8892 发票开了吗", Caller())
    assert down.results == [] and "unavailable" in down.calls[0].error  # the trace says what happened
    notice = down.notice("20240521-8892 发票开了吗")  # the reader gets no internals
    assert "订单系统暂时查询不到" in notice and "127.0.0.1" not in notice



def test_every_intent_the_rules_recognise_is_a_topic_the_lookup_answers():
    from assistant.tools.intents import INTENT_WORDS
    from assistant.tools.orders import TOPICS

    assert set(INTENT_WORDS) == set(TOPICS)
