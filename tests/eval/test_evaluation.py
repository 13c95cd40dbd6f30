"""The harness wired to the app (``assistant.app.evaluation``): run files, the demo ERP, secrets."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import SecretStr

from assistant.app.evaluation import asks_about_orders, evaluate
from assistant.app.settings import LLMBackend, Settings
from eval.dataset import Query, load_dataset
from eval.runfile import load_run

NOWHERE = "http://127.0.0.1:9"  # nothing listens on the discard port


def test_run_file_keeps_one_row_per_question_and_what_the_run_was_made_with(shop_set, tmp_path):
    evaluation = evaluate(shop_set, mode="hybrid")
    run = load_run(evaluation.file.write(tmp_path / "run.json"))

    rows = {row.id: row for row in run.rows["hybrid"]}
    assert list(rows) == ["q-invoice", "q-return", "q-en", "q-car"]
    invoice = rows["q-invoice"]
    assert (invoice.text, invoice.category) == ("确认收货后多久能开出电子发票？", "faq")
    assert invoice.retrieved[0] == "invoice" and invoice.relevant == ["invoice"]
    assert "24小时内" in invoice.answer and not invoice.refused and invoice.refusal is None
    assert invoice.contains is True and invoice.ndcg_at_10 == 1.0
    assert invoice.cited == ["invoice"] and invoice.citations[0].quote in invoice.answer.replace("[1]", "")
    assert invoice.evidence is not None and invoice.evidence["coverage"] > 0
    assert {"bm25", "vector", "answer"} <= set(invoice.timings_ms)
    for row in rows.values():
        assert (row.refusal is not None) == row.refused, row  # every refusal says why

    meta = run.meta
    assert meta.dataset.name == "shop" and meta.dataset.queries == 4 and meta.dataset.documents == 3
    assert meta.dataset.categories == {"faq": 2, "cross_lingual": 1, "unanswerable_related": 1}
    assert meta.modes == ["hybrid"]
    assert re.fullmatch(r"[0-9a-f]{40}", meta.git.commit) and isinstance(meta.git.dirty, bool)
    assert meta.models.embedder and meta.models.reranker == Settings().models.reranker
    assert meta.settings["retrieval"]["top_k"] == Settings().retrieval.top_k
    assert meta.settings["answering"]["min_term_coverage"] == Settings().answering.min_term_coverage
    assert meta.settings["models"]["embedder"] == Settings().models.embedder
    assert datetime.fromisoformat(meta.date).tzinfo is not None
    assert run.results[0]["categories"]["faq"]["queries"] == 2


def test_run_file_never_holds_a_secret(shop_set, tmp_path):
    settings = Settings().with_updates(
        llm={"backends": [LLMBackend(base_url=f"{NOWHERE}/v1", model="qwen-test", api_key=SecretStr("sk-test-4242"))]},
        erp={"token": SecretStr("erp-token-7777")},
    )
    text = evaluate(shop_set, settings, mode="bm25").file.write(tmp_path / "run.json").read_text(encoding="utf-8")
    assert "sk-test-4242" not in text and "erp-token-7777" not in text and "**********" not in text
    assert "qwen-test" in load_run(tmp_path / "run.json").meta.models.llm


def test_a_set_that_asks_about_orders_is_answered_by_the_demo_erp_started_for_the_run(shop_orders_set):
    # The configured ERP is not there: the run must not depend on it.
    settings = Settings().with_updates(erp={"base_url": NOWHERE, "timeout": 0.5, "retries": 0})
    evaluation = evaluate(shop_orders_set, settings, mode="bm25")
    order = next(row for row in evaluation.file.rows["bm25"] if row.id == "q-order")
    assert [(c.name, c.error) for c in order.tool_calls] == [("lookup_order", None)]
    assert "SF1402337788115" in order.answer and not order.refused  # the seed's tracking number
    assert order.contains is True
    assert evaluation.file.meta.erp.startswith("demo ERP")


def test_a_set_without_orders_runs_with_the_order_tools_off(shop_set):
    evaluation = evaluate(shop_set, mode="bm25")
    rows = evaluation.file.rows["bm25"]
    assert all(not row.tool_calls and "tools" not in row.timings_ms for row in rows)
    assert evaluation.file.meta.erp.startswith("off")


def test_an_order_number_anywhere_in_a_conversation_makes_a_set_ask_about_orders(shop_set):
    dataset = load_dataset(shop_set)
    assert not asks_about_orders(dataset)
    dataset.queries.append(Query("mt", "那还能取消吗", conversation=["我的订单２０２４０５２１－８８９２还没发货"]))
    assert asks_about_orders(dataset)
