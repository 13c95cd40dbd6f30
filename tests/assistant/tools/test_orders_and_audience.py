"""Order tools: what staff and customers see, and who may list whose orders."""

from __future__ import annotations

import pytest

from assistant.tools.audience import (
    AudienceRules,
    mask_address,
    mask_email,
    mask_name,
    mask_phone,
)
from assistant.tools.base import Caller, ToolDenied, ToolRegistry
from assistant.tools.orders import ListOrdersTool, OrderLookupTool

STAFF = Caller(platform="api", role="staff", audience="staff")
# A customer in a customer-facing group, bound to the customer who placed 20240521-8892.
CUSTOMER = Caller(platform="feishu", chat_id="oc_after_sales", user_id="ou_1", role=None, customer_id="C10086",
                  audience="customer")


def test_lookup_is_cited_as_the_erp_with_the_query_time(erp, clock):
    result = OrderLookupTool(erp, clock=clock).call({"order_no": "20240521-8892", "topic": "invoice"}, STAFF)
    assert result.source_id == "erp:order:20240521-8892"
    assert (result.title, result.section) == ("ERP 订单系统", "查询于 10:22")
    assert "发票状态：未开具" in result.facts and "申请开票时间：2024-05-21 20:14" in result.facts
    assert "还没有开具" in result.summary and result.kb_query


def test_staff_see_personal_data(erp, clock):
    result = OrderLookupTool(erp, clock=clock).call({"order_no": "20240521-8892", "topic": "shipping"}, STAFF)
    assert "13812345678" in result.facts and "张江路 1388 弄" in result.facts and "张晓雨" in result.facts
    assert result.data["customer_id"] == "C10086"


def test_customer_facing_groups_get_phone_email_address_and_name_masked(erp, clock):
    tool = OrderLookupTool(erp, clock=clock)
    everything = tool.call({"order_no": "20240521-8892"}, CUSTOMER)
    shipping = tool.call({"order_no": "20240521-8892", "topic": "shipping"}, CUSTOMER)
    invoice = tool.call({"order_no": "20240521-8892", "topic": "invoice"}, CUSTOMER)
    shown = "\n".join([everything.facts, shipping.facts, invoice.facts, str(everything.data)])
    for secret in ("13812345678", "xiaoyu.zhang@example.com", "张江路", "1388", "张晓雨"):
        assert secret not in shown, secret
    assert "138****5678" in shipping.facts and "上海市浦东新区****" in shipping.facts
    assert "x***@example.com" in invoice.facts


def test_a_linked_customer_cannot_see_another_customers_order(erp, clock):
    someone_else = Caller(platform="wecom", chat_id="g1", role=None, customer_id="C20001", audience="customer")
    with pytest.raises(ToolDenied, match="not proved it is theirs"):
        OrderLookupTool(erp, clock=clock).call({"order_no": "20240521-8892"}, someone_else)


def test_a_customer_nobody_bound_sees_no_order_until_they_prove_it_and_unknown_orders_look_the_same(erp, clock):
    tool = OrderLookupTool(erp, clock=clock)
    stranger = Caller(platform="openai", chat_id="-", role=None, audience="customer")
    for order_no in ("20240521-8892", "20991231-0001"):  # one exists, one does not: the same answer
        with pytest.raises(ToolDenied, match="not proved it is theirs"):
            tool.call({"order_no": order_no}, stranger)
    proved = Caller(platform="openai", chat_id="-", role=None, audience="customer",
                    verified_orders=frozenset({"20240521-8892"}))
    assert "138****5678" in tool.call({"order_no": "20240521-8892", "topic": "shipping"}, proved).facts


def test_customers_list_only_their_own_orders(erp, clock):
    tool = ListOrdersTool(erp, clock=clock)
    me = Caller(platform="feishu", chat_id="g1", role=None, customer_id="C10086", audience="customer")
    assert tool.call({}, me).facts.count("\n") == 1  # two orders
    with pytest.raises(ToolDenied, match="another customer"):
        tool.call({"customer_id": "C10087"}, me)
    with pytest.raises(ToolDenied, match="linked"):
        tool.call({}, Caller(platform="feishu", chat_id="g1", role=None, audience="customer"))


def test_staff_list_any_customers_orders(erp, clock):
    result = ListOrdersTool(erp, clock=clock).call({"customer_id": "C10087"}, STAFF)
    assert "20240510-1207" in result.facts and "退款中" in result.facts


def test_group_rules_win_over_roles_and_unknown_chats_are_customer_facing():
    rules = AudienceRules(groups={"feishu:oc_staff": "staff", "oc_vip": "customer"}, roles={"staff": "staff"})
    assert rules.resolve(Caller(platform="feishu", chat_id="oc_staff", role=None)) == "staff"
    assert rules.resolve(Caller(platform="wecom", chat_id="oc_vip", role="staff")) == "customer"
    assert rules.resolve(Caller(platform="dingtalk", chat_id="unknown", role=None)) == "customer"
    assert rules.resolve(Caller()) == "staff"  # API and CLI callers are staff
    with pytest.raises(ValueError, match="audience rule"):
        AudienceRules(groups={"g": "admin"})


def test_a_caller_without_a_decided_audience_is_treated_as_a_customer(erp, clock):
    with pytest.raises(ToolDenied):
        OrderLookupTool(erp, clock=clock).call({"order_no": "20240521-8892", "topic": "shipping"}, Caller(role=None))


@pytest.mark.parametrize(
    "mask, raw, shown",
    [
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, "+86 021-5555-1234", "****1234"),
        (mask_email, "liming@example.com", "l***@example.com"),
        (mask_address, "北京市朝阳区望京西路 48 号院 3 号楼 1201", "北京市朝阳区****"),
        (mask_address, "广东省广州市天河区体育西路 191 号", "广东省广州市天河区****"),
        (mask_name, "李明", "李*"),
    ],
)
def test_masks(mask, raw, shown):
    assert mask(raw) == shown


def test_registry_validates_arguments_and_records_errors_instead_of_raising(erp):
    registry = ToolRegistry([OrderLookupTool(erp)])
    bad = registry.call("lookup_order", {"order_no": "8892"}, STAFF)
    assert bad.result is None and "ToolArgumentError" in bad.record.error and erp.calls == []
    unknown = registry.call("delete_order", {}, STAFF)
    assert "UnknownTool" in unknown.record.error
    extra = registry.call("lookup_order", {"order_no": "20240521-8892", "x": 1}, STAFF)
    assert "unexpected argument" in extra.record.error


def test_registry_describes_tools_in_the_openai_tools_format(erp):
    spec = ToolRegistry([OrderLookupTool(erp), ListOrdersTool(erp)]).specs()
    assert [s["function"]["name"] for s in spec] == ["lookup_order", "list_orders"]
    assert spec[0]["type"] == "function" and spec[0]["function"]["parameters"]["required"] == ["order_no"]


# -- what the customer may do with an order, from the real demo ERP --------------------------------
def lookup(client, order_no, topic, caller=STAFF):
    return OrderLookupTool(client).call({"order_no": order_no, "topic": topic}, caller)


def test_cancel_before_shipping_points_to_the_self_service_cancel_rule(demo_erp_client):
    result = lookup(demo_erp_client, "20240501-0420", "cancel")
    assert "物流状态：待发货" in result.facts
    assert result.summary == "订单20240501-0420当前状态：已付款，待发货，物流状态：待发货。"
    assert result.kb_query == "待发货订单怎么自助取消"


def test_cancel_after_shipping_points_to_refusing_the_parcel_or_returning_it(demo_erp_client):
    result = lookup(demo_erp_client, "20240521-8892", "cancel")
    assert "已发货" in result.summary and "运输中" in result.summary
    assert "拒收" in result.kb_query and "签收后申请退货" in result.kb_query


def test_return_after_delivery_gives_the_delivery_time_and_the_seven_day_rule(demo_erp_client):
    result = lookup(demo_erp_client, "20240518-3310", "return")
    assert "2024-05-19 14:21 已签收" in result.summary
    assert "七天无理由退货" in result.kb_query


def test_a_returned_parcel_says_whether_the_warehouse_received_it(demo_erp_client):
    result = lookup(demo_erp_client, "20240510-1207", "return")
    assert "退货已签收入库" in result.summary and "退款状态：退款处理中" in result.facts
    assert result.kb_query == "退货寄回后多久退款"


def test_address_change_depends_on_whether_the_order_has_left_the_warehouse(demo_erp_client):
    before = lookup(demo_erp_client, "20240501-0420", "address")
    after = lookup(demo_erp_client, "20240521-8892", "address", CUSTOMER)
    assert before.kb_query == "待发货订单怎么修改收货地址"
    assert after.kb_query == "订单已出库后怎么改地址" and "顺丰速运 SF1402337788115" in after.summary
    assert "张江路" not in after.facts and "上海市浦东新区****" in after.facts  # still masked for customers


def test_english_summaries_of_order_intents_are_in_english(demo_erp_client):
    result = lookup(demo_erp_client, "20240521-8892", "cancel")
    assert result.summary_en == "Order 20240521-8892 status: shipped; shipping: in transit."


def test_an_unknown_order_is_an_answer_that_says_so_cited_to_the_erp(demo_erp_client):
    result = lookup(demo_erp_client, "20240521-8829", "cancel")
    assert result.source_id == "erp:order:20240521-8829" and result.title == "ERP 订单系统"
    assert result.summary.startswith("没有查到这个订单号（20240521-8829）")
    assert result.summary_en.startswith("No order with the number 20240521-8829 was found")
    assert result.kb_query == "各状态的订单能否取消", "the status is unknown too: the rule for every status"
    assert lookup(demo_erp_client, "20240621-5566", "shipping").kb_query == "下单后多久发货"
    assert lookup(demo_erp_client, "20240621-5566", "status").kb_query is None
