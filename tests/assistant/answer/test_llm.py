"""The OpenAI-compatible client and the LLM answerer, against a fake endpoint on 127.0.0.1."""

from __future__ import annotations

import pytest

from assistant.answer.citations import CitationChecker
from assistant.answer.llm import (
    LLMAnswerer,
    LLMBadResponse,
    LLMClient,
    LLMTimeout,
    LLMUnavailable,
    ModelDeclined,
    UnsupportedAnswer,
)
from assistant.domain import Turn


def answerer(fake, api_key, *, stream=False, timeout=5.0):
    client = LLMClient(fake.url, "qwen2.5-test", api_key, timeout=timeout, name="primary")
    return LLMAnswerer(client, CitationChecker(), stream=stream)


def test_prompt_numbers_the_sources_carries_the_conversation_and_asks_for_citations(fake_llm, api_key, invoice_hits):
    history = [Turn("user", "我想开发票"), Turn("assistant", "好的，请问订单号？")]
    answerer(fake_llm, api_key).answer("发票什么时候开？", invoice_hits, history=history)
    body = fake_llm.requests[0]
    system, *turns, user = body["messages"]
    assert body["model"] == "qwen2.5-test" and system["role"] == "system" and "[n]" in system["content"]
    assert [t["content"] for t in turns] == ["我想开发票", "好的，请问订单号？"]
    assert "[1] 电子发票开具管理规范 V3.2｜二、申请条件与开具时间 > 2.3 开具时间｜第1页" in user["content"]
    assert "[2] " in user["content"] and user["content"].endswith("发票什么时候开？")
    assert fake_llm.headers[0]["authorization"] == f"Bearer {api_key}"


@pytest.mark.parametrize("stream", [False, True])
def test_a_grounded_answer_comes_back_cited(fake_llm, api_key, invoice_hits, stream):
    fake_llm.prefer = ["下载路径"]
    answer = answerer(fake_llm, api_key, stream=stream).answer("发票什么时候开，在哪下载？", invoice_hits)
    assert not answer.refused and fake_llm.requests[0]["stream"] is stream
    assert answer.answer.startswith("普票在顾客确认收货后24小时内自动开具[1]。")
    assert [c.chunk_id for c in answer.citations] == ["c-time", "c-download"]
    assert any("answered by LLM backend 'primary'" in n for n in answer.trace.notes)


def test_made_up_citations_are_removed_from_the_answer(fake_llm, api_key, invoice_hits):
    fake_llm.mode = "made_up"
    answer = answerer(fake_llm, api_key).answer("发票什么时候开？", invoice_hits)
    assert "[7]" not in answer.answer and {c.n for c in answer.citations} == {1}
    assert any("removed marker [7]" in n for n in answer.trace.notes)


def test_an_answer_its_sources_do_not_support_is_rejected(fake_llm, api_key, invoice_hits):
    fake_llm.mode = "unsupported"
    with pytest.raises(UnsupportedAnswer) as caught:
        answerer(fake_llm, api_key).answer("发票什么时候开？", invoice_hits)
    assert caught.value.checked.supported == 0


def test_the_model_saying_no_answer_is_a_decline(fake_llm, api_key, invoice_hits):
    fake_llm.mode = "decline"
    with pytest.raises(ModelDeclined):
        answerer(fake_llm, api_key).answer("你们的股票代码？", invoice_hits)


def test_stream_yields_text_as_it_arrives(fake_llm, api_key, invoice_hits):
    client = LLMClient(fake_llm.url, "m", api_key)
    prompt = "【资料 Sources】\n[1] t\n好的，发票会在确认收货后开具。\n\n【问题 Question】\nq"
    pieces = list(client.stream([{"role": "user", "content": prompt}]))
    assert len(pieces) > 1 and "".join(pieces) == "好的，发票会在确认收货后开具[1]。"


def test_server_errors_stalls_and_bad_settings_are_named_errors_without_the_key(fake_llm, api_key):
    client = LLMClient(fake_llm.url, "m", api_key, timeout=0.3, name="primary")
    messages = [{"role": "user", "content": "hi"}]
    fake_llm.mode = "fail"
    with pytest.raises(LLMUnavailable, match="500"):
        client.complete(messages)
    fake_llm.mode, fake_llm.status = "status", 401
    with pytest.raises(LLMBadResponse, match="api_key of this backend in ASSISTANT_LLM__BACKENDS") as bad:
        client.complete(messages)
    fake_llm.mode, fake_llm.delay = "good", 1.0
    with pytest.raises(LLMTimeout, match="0.3 s"):
        client.complete(messages, stream=True)
    for text in (str(bad.value), repr(client)):
        assert api_key not in text


def test_an_endpoint_echoing_the_key_does_not_put_it_in_the_error(fake_llm, api_key):
    fake_llm.mode, fake_llm.status = "status", 403
    with pytest.raises(LLMBadResponse, match=r"rejected Bearer \*\*\*") as caught:
        LLMClient(fake_llm.url, "m", api_key).complete([{"role": "user", "content": "hi"}])
    assert api_key not in str(caught.value)


def test_an_unreachable_endpoint_is_unavailable():
    with pytest.raises(LLMUnavailable, match="cannot reach"):
        LLMClient("http://127.0.0.1:9/v1", "m", timeout=1).complete([{"role": "user", "content": "hi"}])


def test_a_reasoning_models_thinking_is_not_part_of_the_answer(fake_llm, api_key, invoice_hits):
    fake_llm.reply = lambda body: "<think>用户问开票时间，资料[1]说24小时。</think>普票在顾客确认收货后24小时内自动开具[1]。"
    answer = answerer(fake_llm, api_key).answer("发票什么时候开？", invoice_hits)
    assert answer.answer == "普票在顾客确认收货后24小时内自动开具[1]。"


def test_credentials_in_the_base_url_never_show_in_errors_or_reprs():
    import socket

    from assistant.answer.llm import LLMClient, LLMUnavailable

    with socket.socket() as probe:  # a port nothing listens on: the connection is refused for real
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = LLMClient(f"http://bob:hunter2-pass@127.0.0.1:{port}/v1?key=qs-secret-9", "m", "sk-abc",
                       name="primary", timeout=2)
    assert "hunter2-pass" not in repr(client) and "qs-secret-9" not in repr(client)
    with pytest.raises(LLMUnavailable) as caught:
        client.complete([{"role": "user", "content": "hi"}])
    assert f"127.0.0.1:{port}/v1" in str(caught.value)
    assert "hunter2-pass" not in str(caught.value) and "qs-secret-9" not in str(caught.value)
