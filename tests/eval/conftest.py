"""Small eval sets written by the tests: a shop's SOPs and questions of several categories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = [
    {"_id": "invoice", "title": "电子发票", "text": "确认收货后24小时内开出电子发票，发送到下单时填写的邮箱。增值税专用发票在3个工作日内开具。"},
    {"_id": "shipping", "title": "物流配送", "text": "订单付款后48小时内发货。发货后可以在订单详情查看物流轨迹和快递单号。"},
    {"_id": "returns", "title": "退货规则", "text": "签收后7天内可申请无理由退货，商品需保持完好。退款在收到退货后3至7个工作日原路退回。"},
]
QUESTIONS = [
    {"_id": "q-invoice", "text": "确认收货后多久能开出电子发票？", "answers": ["24小时内"], "category": "faq"},
    {"_id": "q-return", "text": "签收后几天内可以无理由退货？", "answers": ["7天内"], "category": "faq"},
    {"_id": "q-en", "text": "How soon after confirming receipt is the electronic invoice issued?", "answers": ["24"],
     "category": "cross_lingual"},
    {"_id": "q-car", "text": "你们的二手车可以分期付款吗？", "is_impossible": True, "category": "unanswerable_related"},
]
ORDER_QUESTION = {"_id": "q-order", "text": "我的订单20240521-8892到哪了", "answers": ["SF1402337788115"],
                  "category": "order_intent"}
QRELS = {"q-invoice": "invoice", "q-return": "returns", "q-en": "invoice", "q-order": "shipping"}


def write_set(root: Path, questions: list[dict]) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in CORPUS), encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in questions), encoding="utf-8")
    qrels = [f"{q['_id']}\t{QRELS[q['_id']]}\t1" for q in questions if q["_id"] in QRELS]
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def shop_set(tmp_path) -> Path:
    """Four questions about the shop's SOPs, in four categories; none names an order."""
    return write_set(tmp_path / "shop", QUESTIONS)


@pytest.fixture
def shop_orders_set(tmp_path) -> Path:
    """The shop's questions and one about order 20240521-8892 (an order of the demo ERP's seed)."""
    return write_set(tmp_path / "shop-orders", [*QUESTIONS, ORDER_QUESTION])
