"""Synthetic but realistic mixed Chinese/English customer-service text, reproducible from a seed."""

from __future__ import annotations

import random

TOPICS = ["退货", "退款", "发票", "物流", "配送", "会员", "积分", "保修", "维修", "支付", "订单", "优惠券", "换货", "安装"]
PRODUCTS = ["iPhone 15", "MacBook Air", "小米手环8", "戴森吸尘器 V12", "美的空调", "华为 MatePad", "Switch OLED", "九阳豆浆机"]
CHANNELS = ["支付宝", "微信支付", "银行卡", "花呗分期", "云闪付"]
TEMPLATES = [
    "{p}的{t}须在签收后{n}天内申请，超过时限的{t}申请系统不再受理。",
    "顾客使用{c}付款的订单，{t}审核通过后{n}个工作日内原路退回。",
    "For {p}, {t} requests must be submitted within {n} days; contact support if the order shows as delivered.",
    "{t}服务仅适用于自营商品，第三方店铺的{p}请联系商家处理，客服不得代为承诺。",
    "会员等级为金卡及以上的顾客，{t}可享受免费上门取件，每月限{n}次。",
    "如遇{c}扣款成功但订单未更新，请在{n}小时后刷新；仍未更新的，由客服提交工单核实。",
    "The warranty for {p} covers manufacturing defects for {n} months; accidental damage is excluded.",
    "{p}的{t}时效：江浙沪{n}天，偏远地区另加2至5天，节假日顺延。",
]


def sentence(rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(
        p=rng.choice(PRODUCTS), t=rng.choice(TOPICS), c=rng.choice(CHANNELS), n=rng.randint(1, 30)
    )


def document(rng: random.Random, sections: int = 6, sentences: int = 5) -> str:
    lines = [f"# {rng.choice(TOPICS)}服务规范 {rng.randint(1, 999)}", f"版本：V{rng.randint(1, 5)}.{rng.randint(0, 9)}"]
    for s in range(sections):
        lines.append(f"## {s + 1}. {rng.choice(TOPICS)}{rng.choice(['流程', '时效', '规则', '说明'])}")
        lines.append("".join(sentence(rng) for _ in range(sentences)))
    return "\n".join(lines) + "\n"


def passages(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return ["".join(sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(n)]
