"""What a message asks about an order: the topics of an order lookup, recognised by their words.

The router plans a lookup per topic; the rewriter uses the same words to tell that a follow-up without
an order number ("那它还能取消吗") is about the order mentioned earlier. Words are matched on
normalised text (lower case, half-width).
"""

from __future__ import annotations

from assistant.text.normalize import normalize

# Topic -> words that ask about it.
INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "invoice": ("发票", "开票", "普票", "专票", "invoice", "fapiao", "receipt"),
    "shipping": (
        "物流", "快递", "到哪", "发货", "配送", "运单", "送到", "签收", "几天到", "什么时候能到",
        "shipping", "shipped", "delivery", "deliver", "tracking", "where is my",
    ),
    "refund": ("退款", "退钱", "钱退", "到账", "refund", "money back"),
    "return": (
        "退货", "退回去", "寄回", "能退吗", "能退不", "可以退吗", "能不能退", "退掉", "无理由",
        "return", "send it back", "send back",
    ),
    "cancel": ("取消", "不要了", "不想要了", "撤销订单", "退订", "cancel"),
    "address": ("地址", "搬家", "改派", "address", "moved house", "moving house"),
    "items": ("买了什么", "买的什么", "商品明细", "订单明细", "items"),
    "status": ("订单状态", "状态", "查一下", "查下", "查询", "怎么样了", "进度", "status", "check my order"),
}
# What the customer wants to do with the order. Their lookups state the order and shipping status,
# so a shipping word beside them ("还没发货呢，帮我取消") is context, not a second question.
ACTIONS = ("cancel", "return", "address")
SUBSUMED_BY_ACTIONS = ("shipping", "status")


def topics(text: str) -> list[str]:
    """The order topics a message asks about, in INTENT_WORDS order; [] when it asks none."""
    norm = normalize(text)
    asked = [topic for topic, words in INTENT_WORDS.items() if any(w in norm for w in words)]
    if any(t in ACTIONS for t in asked):
        asked = [t for t in asked if t not in SUBSUMED_BY_ACTIONS]
    return asked
