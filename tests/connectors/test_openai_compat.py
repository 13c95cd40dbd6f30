"""POST /v1/chat/completions: the OpenAI wire format, plain and streamed, with citations in text and data."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from connectors.openai_compat import chat_router
from connectors.settings import ConnectorSettings

EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)


@pytest.fixture
def client_for():
    def make(responder, **settings) -> TestClient:
        app = FastAPI()
        app.include_router(chat_router(responder, ConnectorSettings(**settings)))
        return TestClient(app)

    return make


def ask(client, question="电子发票怎么开？", **extra):
    return client.post("/v1/chat/completions", json={
        "model": "kb-assistant",
        "messages": [{"role": "system", "content": "You are helpful."},
                     {"role": "user", "content": "earlier question"},
                     {"role": "assistant", "content": "earlier answer"},
                     {"role": "user", "content": question}],
        **extra,
    })


def test_answers_the_last_user_message_in_the_openai_format_with_citations(client_for, responder):
    body = ask(client_for(responder), user="alice").json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "kb-assistant"
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": EXPECTED_TEXT},
                                "finish_reason": "stop"}]
    assert body["citations"][0]["doc_id"] == "e-invoice" and body["citations"][0]["n"] == 1
    assert body["refused"] is False and set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert responder.seen[0].text == "电子发票怎么开？"
    assert responder.seen[0].conversation_id == "openai:alice:alice"


def test_streaming_sends_chunks_that_add_up_to_the_answer_then_citations_then_done(client_for, responder):
    with client_for(responder).stream("POST", "/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "电子发票怎么开？"}], "stream": True,
    }) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and len({c["id"] for c in chunks}) == 1 for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == EXPECTED_TEXT
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    assert chunks[-1]["citations"][0]["title"] == "电子发票开具规范"


def test_a_refusal_is_a_helpful_sentence_and_flagged(client_for, responder, make_answer):
    responder.respond = lambda message: make_answer(message.text, "", refused=True)
    body = ask(client_for(responder), "What is your stock ticker?").json()
    assert body["choices"][0]["message"]["content"].startswith("Sorry, I could not find")
    assert body["refused"] is True and body["citations"] == []


def test_content_parts_are_read_and_the_kb_extension_is_passed_on(client_for, responder):
    client = client_for(responder)
    response = client.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": [{"type": "text", "text": "退款"}, {"type": "image_url", "image_url": {}}]}],
        "kb": "finance",
    })
    assert response.status_code == 200
    assert responder.seen[0].text == "退款" and responder.seen[0].kb_ids == ("finance",)


def test_requests_without_a_user_message_are_a_400_in_the_openai_error_shape(client_for, responder):
    response = client_for(responder).post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert client_for(responder).post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_api_keys_when_configured_are_required(client_for, responder):
    client = client_for(responder, openai_api_keys=["sk-local-1"])
    assert ask(client).status_code == 401
    assert "sk-local-1" not in ask(client).text
    assert client.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-wrong"},
                       json={"messages": [{"role": "user", "content": "q"}]}).status_code == 401
    assert client.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-local-1"},
                       json={"messages": [{"role": "user", "content": "q"}]}).status_code == 200


def test_the_model_list_names_the_assistant(client_for, responder):
    body = client_for(responder).get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["cs-knowledge-assistant"]
    assert client_for(responder, openai_api_keys=["sk-1"]).get("/v1/models").status_code == 401
