"""ERP order tools: look up one order (status, items, shipping, invoice, refund, or what the customer
may do with it: cancel, return, change the address); list a customer's orders.

Results are cited as "ERP 订单系统, 查询于 HH:MM". For customer-facing audiences personal data is
masked and the orders of another customer are refused. An order number the ERP does not know is an
answer, not a failure: the result says so first (cited to the ERP and the time of the query), and only
a general rule the question asks for follows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from assistant.erp.client import ERPClient, ERPError, OrderNotFound
from assistant.erp.models import (
    INVOICE_STATUS_ZH,
    ORDER_STATUS_ZH,
    REFUND_STATUS_ZH,
    SHIPPING_STATUS_ZH,
    Order,
)
from assistant.tools.audience import (
    mask_address,
    mask_email,
    mask_name,
    mask_phone,
    sees_personal_data,
)
from assistant.tools.base import Caller, ToolDenied, ToolError, ToolResult

ERP_TITLE = "ERP 订单系统"
ORDER_NO_PATTERN = r"^\d{8}-\d{4}$"
TOPICS = ("status", "items", "shipping", "invoice", "refund", "return", "cancel", "address")

ACTIONS = ("cancel", "return", "address")
# What the customer may do depends on how far the order has gone: the SOP question that says so, per
# shipping status (not yet shipped: cancel or change the address yourself; on the way: refuse it or
# return it after delivery, have the carrier redirect it; delivered: the 7-day return rules).
ACTION_RULES: dict[str, dict[str, str]] = {
    "cancel": {
        "awaiting_shipment": "待发货订单怎么自助取消",
        "in_transit": "已出库的订单不能取消，可以拒收或签收后申请退货吗",
        "delivered": "签收后不想要了怎么申请退货",
        "returned": "退货寄回后多久退款",
        "lost": "快递丢件怎么处理",
    },
    "return": {
        "awaiting_shipment": "待发货订单怎么自助取消",
        "in_transit": "已出库的订单可以拒收或签收后申请退货吗",
        "delivered": "签收后多久内可以申请七天无理由退货",
        "returned": "退货寄回后多久退款",
        "lost": "快递丢件怎么处理",
    },
    "address": {
        "awaiting_shipment": "待发货订单怎么修改收货地址",
        "in_transit": "订单已出库后怎么改地址",
    },
}
# For an order the ERP does not know the status is unknown too: the general rule of the topic asked
# about (for cancel and address, the rule for every status), so what follows "not found" is on topic.
GENERAL_RULES = {
    "invoice": "确认收货后多久开具发票",
    "shipping": "下单后多久发货",
    "refund": "退款多久到账",
    "cancel": "各状态的订单能否取消",
    "return": "七天无理由退货怎么申请",
    "address": "各状态的订单能否修改收货地址和取消",
}

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now().astimezone()


class OrderLookupTool:
    """``lookup_order(order_no, topic)``: one order from the ERP."""

    name = "lookup_order"
    description = (
        "查询一个订单的实时信息：订单状态、商品、物流（快递公司、单号、最新轨迹）、发票状态和开具时间、退款状态，"
        "以及按当前状态能否取消、退货、改地址。"
        " Look up one order in the ERP: status, items, shipping, invoice status and time, refund status,"
        " and what its status allows: cancel, return, change the address."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "order_no": {"type": "string", "pattern": ORDER_NO_PATTERN, "description": "订单号，如 20240521-8892"},
            "topic": {
                "type": "string",
                "enum": list(TOPICS),
                "description": (
                    "what the customer asks about: status, items, shipping, invoice, refund,"
                    " return, cancel or address (change of delivery address)"
                ),
            },
        },
        "required": ["order_no"],
        "additionalProperties": False,
    }

    def __init__(self, client: ERPClient, *, clock: Clock = _now):
        self.client = client
        self.clock = clock

    def call(self, args: dict[str, Any], caller: Caller) -> ToolResult:
        order_no, topic = args["order_no"], args.get("topic", "status")
        staff = sees_personal_data(caller)
        try:
            order = self.client.get_order(order_no)
        except OrderNotFound:
            if not staff and order_no not in caller.verified_orders:
                # To a customer an unknown order looks like any order not proved theirs: asking about
                # numbers must not tell which orders exist.
                raise ToolDenied(self.name, f"order {order_no}: the asker has not proved it is theirs") from None
            return self._not_found(order_no, topic)
        except ERPError as exc:
            raise ToolError(self.name, str(exc)) from exc
        if not staff and not _owned(order.customer_id, order_no, caller):
            raise ToolDenied(self.name, f"order {order_no}: the asker has not proved it is theirs")
        lines = _facts(order, topic, staff)
        summary, summary_en = _summary(order, topic)
        return ToolResult(
            tool=self.name,
            source_id=f"erp:order:{order.order_no}",
            title=ERP_TITLE,
            section=f"查询于 {self.clock():%H:%M}",
            facts="\n".join(lines),
            summary=summary,
            summary_en=summary_en,
            kb_query=_kb_query(order, topic),
            data=_visible(order, staff),
        )

    def _not_found(self, order_no: str, topic: str) -> ToolResult:
        return ToolResult(
            tool=self.name,
            source_id=f"erp:order:{order_no}",
            title=ERP_TITLE,
            section=f"查询于 {self.clock():%H:%M}",
            facts=f"订单号：{order_no}\n查询结果：ERP 中没有这个订单号",
            summary=f"没有查到这个订单号（{order_no}）对应的订单，请核对订单号后再问。",
            summary_en=f"No order with the number {order_no} was found; please check the order number.",
            kb_query=GENERAL_RULES.get(topic),
            data={"order_no": order_no, "found": False},
        )


class ListOrdersTool:
    """``list_orders(customer_id)``: a customer's recent orders. Customers may list only their own."""

    name = "list_orders"
    description = "列出某位顾客最近的订单（订单号、状态、下单时间、金额）。List a customer's recent orders."
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"customer_id": {"type": "string", "description": "ERP customer id, e.g. C10086"}},
        "required": [],
        "additionalProperties": False,
    }

    def __init__(self, client: ERPClient, *, clock: Clock = _now, limit: int = 10):
        self.client = client
        self.clock = clock
        self.limit = limit

    def call(self, args: dict[str, Any], caller: Caller) -> ToolResult:
        asked = args.get("customer_id")
        if not sees_personal_data(caller):
            if not caller.customer_id:
                raise ToolDenied(self.name, "order lists are shown only to a customer whose account is linked")
            if asked and asked != caller.customer_id:
                raise ToolDenied(self.name, "a customer cannot list another customer's orders")
            asked = caller.customer_id
        if not asked:
            raise ToolError(self.name, "which customer? pass customer_id")
        try:
            orders = self.client.list_orders(asked)[: self.limit]
        except ERPError as exc:
            raise ToolError(self.name, str(exc)) from exc
        lines = [f"{o.order_no}｜{ORDER_STATUS_ZH[o.status]}｜下单 {o.placed_at}｜实付 ¥{o.paid_amount:.2f}" for o in orders]
        summary = f"共找到 {len(orders)} 个订单。" if orders else "没有找到订单。"
        return ToolResult(
            tool=self.name,
            source_id=f"erp:orders:{asked}",
            title=ERP_TITLE,
            section=f"查询于 {self.clock():%H:%M}",
            facts="\n".join(lines) or "没有订单",
            summary=summary,
            summary_en=f"{len(orders)} orders found.",
            data={"orders": [o.model_dump() for o in orders]},
        )


def _owned(customer_id: str, order_no: str, caller: Caller) -> bool:
    """A customer sees an order bound to them, or one they proved theirs in this conversation."""
    return (caller.customer_id is not None and caller.customer_id == customer_id) or order_no in caller.verified_orders


# -- what a result says ------------------------------------------------------------------------
def _facts(order: Order, topic: str, staff: bool) -> list[str]:
    """Key facts as `label：value` lines: the basics, then the topic asked about, then the rest."""
    lines = [f"订单号：{order.order_no}", f"订单状态：{ORDER_STATUS_ZH[order.status]}", f"下单时间：{order.placed_at}"]
    if staff:
        lines.append(f"客户编号：{order.customer_id}")
    sections = {
        "invoice": _invoice_facts(order, staff),
        "shipping": _shipping_facts(order, staff),
        "refund": _refund_facts(order),
        "items": _item_facts(order),
        "address": _shipping_facts(order, staff),
        "cancel": _progress_facts(order),
        "return": _progress_facts(order),
    }
    if topic in sections:
        return lines + sections[topic]
    return lines + [line for part in ("items", "shipping", "invoice", "refund") for line in sections[part]]


def _invoice_facts(order: Order, staff: bool) -> list[str]:
    inv = order.invoice
    lines = [f"发票状态：{INVOICE_STATUS_ZH[inv.status]}"]
    if inv.type or inv.title:
        lines.append(f"发票类型：{inv.type or '—'}；抬头：{inv.title or '—'}")
    if inv.requested_at:
        lines.append(f"申请开票时间：{inv.requested_at}")
    if inv.issued_at:
        lines.append(f"开具时间：{inv.issued_at}")
    if inv.email:
        lines.append(f"接收邮箱：{inv.email if staff else mask_email(inv.email)}")
    if inv.note:
        lines.append(f"备注：{inv.note}")
    return lines


def _shipping_facts(order: Order, staff: bool) -> list[str]:
    s = order.shipping
    lines = [f"物流状态：{SHIPPING_STATUS_ZH[s.status]}"]
    if s.carrier:
        lines.append(f"快递公司：{s.carrier}；运单号：{s.tracking_no or '—'}")
    if s.shipped_at:
        lines.append(f"发货时间：{s.shipped_at}")
    if s.latest:
        lines.append(f"最新轨迹：{s.latest}")
    if s.recipient or s.phone or s.address:
        name, phone, address = (s.recipient, s.phone, s.address) if staff else (
            mask_name(s.recipient), mask_phone(s.phone), mask_address(s.address)
        )
        lines.append(f"收货人：{name}；电话：{phone}；地址：{address}")
    return lines


def _progress_facts(order: Order) -> list[str]:
    """How far the order has gone (shipped? delivered? refunded?): what cancelling or returning depends on."""
    s = order.shipping
    lines = [f"物流状态：{SHIPPING_STATUS_ZH[s.status]}"]
    if s.carrier:
        lines.append(f"快递公司：{s.carrier}；运单号：{s.tracking_no or '—'}")
    if s.shipped_at:
        lines.append(f"发货时间：{s.shipped_at}")
    if s.latest:
        lines.append(f"最新轨迹：{s.latest}")
    if order.refund.status != "none":
        lines += _refund_facts(order)
    return lines


def _refund_facts(order: Order) -> list[str]:
    r = order.refund
    lines = [f"退款状态：{REFUND_STATUS_ZH[r.status]}"]
    if r.amount is not None:
        lines.append(f"退款金额：¥{r.amount:.2f}" + (f"；退回：{r.channel}" if r.channel else ""))
    if r.requested_at:
        lines.append(f"申请退款时间：{r.requested_at}" + (f"（{r.reason}）" if r.reason else ""))
    if r.completed_at:
        lines.append(f"退款完成时间：{r.completed_at}")
    return lines


def _item_facts(order: Order) -> list[str]:
    items = "、".join(f"{i.name} ×{i.quantity}" for i in order.items) or "—"
    return [f"商品：{items}", f"实付金额：¥{order.paid_amount:.2f}"]


def _summary(order: Order, topic: str) -> tuple[str, str]:
    """One sentence (zh, en) stating the facts the topic asks about."""
    no = order.order_no
    if topic == "invoice":
        inv = order.invoice
        if inv.status == "issued":
            return (
                f"订单{no}的发票已于{inv.issued_at}开具（{inv.type}）。",
                f"The invoice for order {no} was issued on {inv.issued_at}.",
            )
        if inv.status == "pending":
            when = f"，{inv.requested_at}已申请" if inv.requested_at else ""
            note = f"，{inv.note}" if inv.note else ""
            return (
                f"订单{no}的发票还没有开具（{inv.type or '发票'}{when}{note}）。",
                f"The invoice for order {no} has not been issued yet (requested {inv.requested_at or '-'}).",
            )
        label = INVOICE_STATUS_ZH[inv.status]
        return f"订单{no}的发票状态：{label}。", f"Invoice status of order {no}: {inv.status.replace('_', ' ')}."
    if topic == "shipping":
        s = order.shipping
        carrier = f"，{s.carrier} {s.tracking_no}" if s.carrier else ""
        latest = f"，最新轨迹：{s.latest}" if s.latest else ""
        return (
            f"订单{no}物流状态：{SHIPPING_STATUS_ZH[s.status]}{carrier}{latest}。",
            f"Order {no} shipping status: {s.status.replace('_', ' ')}{carrier.replace('，', ', ')}.",
        )
    if topic == "refund":
        r = order.refund
        amount = f"，金额¥{r.amount:.2f}" if r.amount is not None else ""
        channel = f"，退回{r.channel}" if r.channel else ""
        return (
            f"订单{no}{REFUND_STATUS_ZH[r.status]}{amount}{channel}。",
            f"Order {no} refund status: {r.status}.",
        )
    if topic in ACTIONS:
        s = order.shipping
        latest = f"，最新轨迹：{s.latest}" if s.latest and topic != "cancel" else ""
        latest_en = f", latest: {s.latest}" if latest else ""
        carrier = f"（{s.carrier} {s.tracking_no}）" if s.carrier and topic == "address" else ""
        return (
            f"订单{no}当前状态：{ORDER_STATUS_ZH[order.status]}，物流状态：{SHIPPING_STATUS_ZH[s.status]}{carrier}{latest}。",
            f"Order {no} status: {order.status.replace('_', ' ')}; shipping: {s.status.replace('_', ' ')}{latest_en}.",
        )
    return (
        f"订单{no}当前状态：{ORDER_STATUS_ZH[order.status]}，下单时间{order.placed_at}，实付¥{order.paid_amount:.2f}。",
        f"Order {no} status: {order.status.replace('_', ' ')}, placed {order.placed_at}.",
    )


def _kb_query(order: Order, topic: str) -> str | None:
    """The SOP question that explains this result to the customer."""
    if topic == "invoice":
        return {
            "issued": "发票开具后在哪里下载",
            "red_flushed": "退款后发票红冲",
            "not_requested": "订单完成后怎么补开发票",
        }.get(order.invoice.status, "确认收货后多久开具发票")
    if topic == "shipping":
        return {
            "awaiting_shipment": "下单后多久发货",
            "lost": "快递丢件怎么处理",
            "returned": "退货寄回后多久退款",
        }.get(order.shipping.status, "快递配送时效多久能到")
    if topic == "refund":
        return {"rejected": "退款申请被驳回怎么办"}.get(order.refund.status, "退款多久到账")
    if topic in ACTIONS and order.status not in ("cancelled", "refunded"):
        return ACTION_RULES[topic].get(order.shipping.status)
    return None


def _visible(order: Order, staff: bool) -> dict[str, Any]:
    """The order as this audience may see it."""
    data = order.model_dump()
    if not staff:
        ship, inv = data["shipping"], data["invoice"]
        ship["recipient"] = mask_name(ship["recipient"])
        ship["phone"] = mask_phone(ship["phone"])
        ship["address"] = mask_address(ship["address"])
        if inv.get("email"):
            inv["email"] = mask_email(inv["email"])
        data.pop("customer_id")
    return data
