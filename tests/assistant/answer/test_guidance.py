"""A routing rule's guidance in answering: its backend is tried first (or none, for ``extractive``),
its style and instruction reach the model's system prompt after the answering rules, and "brief"
keeps one sentence of an extractive answer."""

from __future__ import annotations

from assistant.answer.chain import AnswerChain, Backend, CircuitBreaker
from assistant.answer.citations import CitationChecker
from assistant.answer.llm import LLMAnswerer, LLMClient
from assistant.answer.prompt import ANSWER_SYSTEM
from assistant.domain import AnswerGuidance

QUESTION = "普票什么时候开具？发票在哪里下载？"


def backend(fake, name: str) -> Backend:
    client = LLMClient(fake.url, "m", "k", name=name)
    return Backend(LLMAnswerer(client, CitationChecker(), stream=False), CircuitBreaker(name))


def test_the_rule_s_backend_is_tried_first_and_the_others_stay_behind_it(fake_llm, fake_llm_2, extractive,
                                                                          invoice_hits):
    chain = AnswerChain(extractive, [backend(fake_llm, "primary"), backend(fake_llm_2, "fast")])
    answer = chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(backend="fast"))
    assert (len(fake_llm.requests), len(fake_llm_2.requests)) == (0, 1)
    assert any("answered by LLM backend 'fast'" in n for n in answer.trace.notes)
    fake_llm_2.mode = "fail"
    answer = chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(backend="fast"))
    assert "switched answer backend: fast -> primary" in answer.trace.notes and len(fake_llm.requests) == 1


def test_an_unknown_backend_keeps_the_usual_order_and_extractive_calls_no_model(fake_llm, extractive, invoice_hits):
    chain = AnswerChain(extractive, [backend(fake_llm, "primary")])
    answer = chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(backend="gone"))
    assert len(fake_llm.requests) == 1 and any("'gone', which is not configured" in n for n in answer.trace.notes)
    answer = chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(backend="extractive"))
    assert len(fake_llm.requests) == 1 and not answer.refused and answer.citations


def test_style_and_instruction_come_after_the_answering_rules_in_the_system_prompt(fake_llm, extractive, invoice_hits):
    chain = AnswerChain(extractive, [backend(fake_llm, "primary")])
    chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(style="steps", prompt="称呼顾客为“您”。"))
    system = fake_llm.requests[-1]["messages"][0]["content"]
    assert system.startswith(ANSWER_SYSTEM)
    assert system.index("numbered steps") < system.index("称呼顾客为“您”。")
    chain.answer(QUESTION, invoice_hits)
    assert fake_llm.requests[-1]["messages"][0]["content"] == ANSWER_SYSTEM  # no rule: the prompt as always


def test_brief_keeps_one_sentence_of_an_extractive_answer(extractive, invoice_hits):
    full = extractive.answer(QUESTION, invoice_hits)
    brief = extractive.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(style="brief"))
    assert full.answer.count("[") > 1, full.answer
    assert brief.answer.count("[") == 1 and brief.answer.split("[")[0] in full.answer
    chain = AnswerChain(extractive)
    assert chain.answer(QUESTION, invoice_hits, guidance=AnswerGuidance(style="brief")).answer == brief.answer
