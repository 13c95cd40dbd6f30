"""The ERP's order records, as its HTTP API returns them.

The demo ERP serves these shapes and the client parses them, so the two cannot drift apart.
Status fields are codes (``shipped``, ``pending``...); `labels` turns them into Chinese for people.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

OrderStatus = Literal["pending_payment", "paid", "shipped", "completed", "refunding", "refunded", "cancelled"]
ShippingStatus = Literal["awaiting_shipment", "in_transit", "delivered", "returned", "lost"]
InvoiceStatus = Literal["not_requested", "pending", "issued", "red_flushed", "failed"]
RefundStatus = Literal["none", "processing", "completed", "rejected"]


class OrderItem(BaseModel):
    sku: str
    name: str
    quantity: int
    price: float


class Shipping(BaseModel):
    carrier: str | None = None
    tracking_no: str | None = None
    status: ShippingStatus = "awaiting_shipment"
    shipped_at: str | None = None
    latest: str = ""  # the newest tracking event, as the carrier reports it
    recipient: str = ""
    phone: str = ""
    address: str = ""


class Invoice(BaseModel):
    status: InvoiceStatus = "not_requested"
    type: str | None = None  # 电子普通发票 / 电子专用发票
    title: str | None = None  # 抬头
    requested_at: str | None = None
    issued_at: str | None = None
    email: str | None = None
    note: str = ""


class Refund(BaseModel):
    status: RefundStatus = "none"
    amount: float | None = None
    requested_at: str | None = None
    completed_at: str | None = None
    channel: str | None = None
    reason: str | None = None


class Order(BaseModel):
    """One order with everything customer service asks about."""

    order_no: str
    customer_id: str
    status: OrderStatus
    placed_at: str
    paid_amount: float
    items: list[OrderItem] = Field(default_factory=list)
    shipping: Shipping = Field(default_factory=Shipping)
    invoice: Invoice = Field(default_factory=Invoice)
    refund: Refund = Field(default_factory=Refund)


class OrderSummary(BaseModel):
    """A line of a customer's order list."""

    order_no: str
    status: OrderStatus
    placed_at: str
    paid_amount: float


ORDER_STATUS_ZH = {
    "pending_payment": "待付款",
    "paid": "已付款，待发货",
    "shipped": "已发货",
    "completed": "已完成",
    "refunding": "退款中",
    "refunded": "已退款",
    "cancelled": "已取消",
}
SHIPPING_STATUS_ZH = {
    "awaiting_shipment": "待发货",
    "in_transit": "运输中",
    "delivered": "已签收",
    "returned": "已退回",
    "lost": "异常（丢件）",
}
INVOICE_STATUS_ZH = {
    "not_requested": "未申请",
    "pending": "未开具（已申请，待开具）",
    "issued": "已开具",
    "red_flushed": "已红冲",
    "failed": "开具失败",
}
REFUND_STATUS_ZH = {
    "none": "无退款",
    "processing": "退款处理中",
    "completed": "退款已完成",
    "rejected": "退款被驳回",
}
