"""POST /v1/chat/completions: the OpenAI wire format, plain and streamed, with citations in text and data.

The router is given how to identify a request and how to ask; here a fake key and a recording asker
stand in for the app's (tests/assistant/app/test_access_api.py drives the real ones)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.domain import Principal
from connectors.openai_compat import chat_router

KEY = "k_test.secret"
PRINCIPAL = Principal(kind="api_key", id="key:k_test", role="agent")

EXPECTED_TEXT = (
    "确认收货后48小时内开具电子发票 [1]。\n\n**来源**\n"
    "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
)


class Asked:
    """Records what the router asked, and answers like the responder fixture."""

    def __init__(self, responder):
        self.responder = responder
        self.calls: list[dict] = []

    def __call__(self, principal, question, *, kbs, label, history, request_id):
        self.calls.append({"principal": principal, "question": question, "kbs": kbs, "label": label,
                           "history": [(t.role, t.text) for t in history]})
        return self.responder.respond(type("M", (), {"text": question})())


def identify(request):
    return PRINCIPAL if request.headers.get("authorization") == f"Bearer {KEY}" else None


@pytest.fixture
def client_for():
    def make(responder, *, signed_in: bool = True) -> TestClient:
        app = FastAPI()
        asked = Asked(responder)
        app.include_router(chat_router(identify, asked))
        client = TestClient(app, headers={"Authorization": f"Bearer {KEY}"} if signed_in else {})
        client.asked = asked  # type: ignore[attr-defined]
        return client

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
    client = client_for(responder)
    body = ask(client, user="alice").json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "kb-assistant"
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": EXPECTED_TEXT},
                                "finish_reason": "stop"}]
    assert body["citations"][0]["doc_id"] == "e-invoice" and body["citations"][0]["n"] == 1
    assert body["refused"] is False and set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    call = client.asked.calls[0]
    assert call["question"] == "电子发票怎么开？" and call["principal"] == PRINCIPAL
    # the client's earlier messages are the conversation; system messages are not part of it
    assert call["history"] == [("user", "earlier question"), ("assistant", "earlier answer")]
    assert call["label"] is None  # the messages carry the conversation: nothing kept on the server


def test_the_user_field_labels_a_conversation_only_when_the_client_sends_no_history(client_for, responder):
    client = client_for(responder)
    client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "那物流呢"}], "user": "desk-7"})
    client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "那物流呢"}]})
    assert [(c["label"], c["history"]) for c in client.asked.calls] == [("desk-7", []), (None, [])]


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
    assert client.asked.calls[0]["question"] == "退款" and client.asked.calls[0]["kbs"] == ["finance"]


def test_requests_without_a_user_message_are_a_400_in_the_openai_error_shape(client_for, responder):
    response = client_for(responder).post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    empty = client_for(responder).post("/v1/chat/completions", json={"messages": []})
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("messages:")


def test_every_call_needs_a_key_the_app_knows(client_for, responder):
    anonymous = client_for(responder, signed_in=False)
    assert ask(anonymous).status_code == 401 and anonymous.asked.calls == []
    assert ask(anonymous).json()["error"]["code"] == "invalid_api_key"
    assert anonymous.post("/v1/chat/completions", headers={"Authorization": "Bearer k_wrong.x"},
                          json={"messages": [{"role": "user", "content": "q"}]}).status_code == 401
    assert anonymous.get("/v1/models").status_code == 401


def test_the_model_list_names_the_assistant(client_for, responder):
    body = client_for(responder).get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["cs-knowledge-assistant"]
