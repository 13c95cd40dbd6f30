"""The backend chain: evidence gate, circuit breakers (stall, errors, recovery), fallback to extractive."""

from __future__ import annotations

import logging

import pytest

from assistant.answer.chain import AllBackendsDown, AnswerChain, Backend, CircuitBreaker
from assistant.answer.citations import CitationChecker
from assistant.answer.llm import LLMAnswerer, LLMClient
from assistant.domain import Chunk, DocRef, Hit
from assistant.tools.base import ToolResult


def make_hit(chunk_id: str, doc_id: str, text: str, section: str, similarity: float) -> Hit:
    chunk = Chunk(id=chunk_id, doc_id=doc_id, kb="support", ordinal=0, text=text, section=section)
    return Hit(chunk=chunk, score=0.02, scores={"vector": similarity}, doc=DocRef(title=doc_id))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend(fake, name, clock, *, timeout=2.0, slow=1.0) -> Backend:
    client = LLMClient(fake.url, "m", "k", timeout=timeout, name=name)
    breaker = CircuitBreaker(name, slow_seconds=slow, cooldown_seconds=30, clock=clock)
    return Backend(LLMAnswerer(client, CitationChecker(), stream=False), breaker)


ERP = ToolResult(
    tool="lookup_order", source_id="erp:order:20240521-8892", title="ERP 订单系统", section="查询于 10:22",
    facts="订单号：20240521-8892\n发票状态：未开具（已申请，待开具）", summary="订单20240521-8892的发票还没有开具。",
    kb_query="确认收货后多久开具发票",
)


# -- the breaker on its own ------------------------------------------------------------------------
def test_breaker_opens_on_one_slow_call_and_half_opens_after_the_cool_down():
    clock = Clock()
    breaker = CircuitBreaker("p", slow_seconds=8, cooldown_seconds=30, clock=clock)
    breaker.record(True, 9.0)
    assert breaker.state == "open" and not breaker.allow() and "threshold 8 s" in breaker.reason
    clock.now += 30
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record(True, 0.5)
    assert breaker.state == "closed" and breaker.allow()


def test_breaker_opens_when_the_error_rate_over_the_window_passes_the_threshold():
    clock = Clock()
    breaker = CircuitBreaker("p", error_rate=0.05, window_seconds=60, min_calls=20, clock=clock)
    for _ in range(19):
        breaker.record(True, 0.1)
    breaker.record(False, 0.1)  # 1 of 20 = 5 %: not above the threshold
    assert breaker.state == "closed"
    breaker.record(False, 0.1)  # 2 of 21
    assert breaker.state == "open" and "error rate 10%" in breaker.reason


def test_old_errors_leave_the_window():
    clock = Clock()
    breaker = CircuitBreaker("p", error_rate=0.05, window_seconds=60, min_calls=3, clock=clock)
    breaker.record(False, 0.1)
    clock.now += 61
    for _ in range(3):
        breaker.record(True, 0.1)
    assert breaker.state == "closed"


def test_a_failed_probe_opens_the_breaker_again():
    clock = Clock()
    breaker = CircuitBreaker("p", cooldown_seconds=10, clock=clock)
    breaker.record(False, 0.1)
    clock.now += 10
    assert breaker.allow()
    breaker.record(False, 0.1)
    assert breaker.state == "open" and breaker.opened == 2


# -- the chain -------------------------------------------------------------------------------------
def test_weak_evidence_is_refused_without_calling_the_model(fake_llm, extractive, invoice_hits):
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", Clock())])
    weak = [h.model_copy(update={"scores": {"vector": 0.1}}) for h in invoice_hits]
    answer = chain.answer("你们公司的股票代码是多少", weak)
    assert answer.refused and fake_llm.requests == []
    assert answer.trace.refusal == "weak_evidence" and answer.trace.evidence.weak


def test_an_unsupported_generated_answer_falls_back_to_the_extractive_one(fake_llm, extractive, invoice_hits):
    fake_llm.mode = "unsupported"
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", Clock())])
    answer = chain.answer("普票什么时候开具？", invoice_hits)
    expected = extractive.answer("普票什么时候开具？", invoice_hits)
    assert answer.answer == expected.answer and "火星" not in answer.answer
    assert any("falling back to extractive" in n for n in answer.trace.notes)
    assert chain.stats()["counts"]["unsupported_fallback"] == 1


def test_a_stalling_primary_opens_its_breaker_and_the_secondary_answers(fake_llm, fake_llm_2, extractive, invoice_hits, caplog):
    clock = Clock()
    fake_llm.delay = 1.0
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", clock, timeout=0.3), backend(fake_llm_2, "secondary", clock)])
    with caplog.at_level(logging.WARNING):
        first = chain.answer("普票什么时候开具？", invoice_hits)
    assert any("LLMTimeout" in n for n in first.trace.notes)
    assert "switched answer backend: primary -> secondary" in first.trace.notes
    assert any("answered by LLM backend 'secondary'" in n for n in first.trace.notes)
    assert "answer backend switch: primary -> secondary" in caplog.text
    assert chain.stats()["backends"]["primary"]["state"] == "open"

    second = chain.answer("普票什么时候开具？", invoice_hits)  # primary is skipped: no request reaches it
    assert len(fake_llm.requests) == 1 and any("circuit open" in n for n in second.trace.notes)
    assert chain.stats()["switches"] == {"primary->secondary": 1}


def test_a_slow_but_successful_answer_is_used_and_still_opens_the_breaker(fake_llm, extractive, invoice_hits):
    fake_llm.delay = 0.3
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", Clock(), slow=0.1)])
    answer = chain.answer("普票什么时候开具？", invoice_hits)
    assert any("answered by LLM backend 'primary'" in n for n in answer.trace.notes)
    assert chain.stats()["backends"]["primary"]["state"] == "open"


def test_failing_models_fall_back_to_extractive_and_recover_after_the_cool_down(fake_llm, fake_llm_2, extractive, invoice_hits):
    clock = Clock()
    fake_llm.mode = fake_llm_2.mode = "fail"
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", clock), backend(fake_llm_2, "secondary", clock)])
    answer = chain.answer("普票什么时候开具？", invoice_hits)
    assert not answer.refused and answer.citations[0].chunk_id == "c-time"
    assert "switched answer backend: secondary -> extractive" in answer.trace.notes
    assert {b["state"] for b in chain.stats()["backends"].values()} == {"open"}
    with pytest.raises(AllBackendsDown):
        chain.complete([{"role": "user", "content": "hi"}])

    fake_llm.mode = "good"
    clock.now += 31  # cool-down over: the next question probes the primary, which answers again
    recovered = chain.answer("普票什么时候开具？", invoice_hits)
    assert any("answered by LLM backend 'primary'" in n for n in recovered.trace.notes)
    assert chain.stats()["backends"]["primary"]["state"] == "closed"
    assert chain.stats()["counts"]["switch:secondary->extractive"] == 1


def test_tool_results_are_source_one_for_the_model(fake_llm, extractive, invoice_hits):
    fake_llm.prefer, fake_llm.keywords = ["开具时间"], ["发票状态", "普票"]
    chain = AnswerChain(extractive, [backend(fake_llm, "primary", Clock())])
    answer = chain.answer("订单20240521-8892发票开了吗", invoice_hits, [ERP])
    assert answer.answer.startswith("发票状态：未开具（已申请，待开具）[1]。")
    assert [c.doc_id for c in answer.citations] == ["erp:order:20240521-8892", "e-invoice"]


def test_without_a_model_tool_facts_come_first_then_the_quoted_rule(extractive, invoice_hits):
    answer = AnswerChain(extractive).answer("订单20240521-8892发票开了吗", invoice_hits, [ERP])
    assert answer.answer.startswith("订单20240521-8892的发票还没有开具[1]。")
    assert answer.citations[0].quote == ERP.facts and answer.citations[1].doc_id == "e-invoice"
    assert "[2]" in answer.answer and answer.question == "订单20240521-8892发票开了吗"


def test_tool_results_alone_answer_when_the_knowledge_base_has_nothing(extractive):
    weak = [make_hit("c-points", "membership", "积分有效期至次年12月31日。", "积分规则", similarity=0.1)]
    answer = AnswerChain(extractive).answer("订单20240521-8892发票开了吗", weak, [ERP])
    assert not answer.refused and [c.n for c in answer.citations] == [1]
