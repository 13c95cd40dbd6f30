"""The ``ConversationStore`` contract, on every SQL backend: turns in order, per conversation, bounded."""

from __future__ import annotations

import numpy as np

from assistant.domain import Turn
from assistant.storage.sql.conversations import SqlConversationStore


def test_turns_come_back_in_order_per_conversation_with_their_embeddings(engine):
    store = SqlConversationStore(engine)
    alice, bob = "feishu:oc_group:ou_alice", "feishu:oc_group:ou_bob"
    vector = np.linspace(-1, 1, 512).astype(np.float32)
    store.append(alice, Turn("user", "发票怎么开？", "发票怎么开？", vector))
    store.append(alice, Turn("assistant", "在订单详情页申请。"))
    store.append(bob, Turn("user", "退货运费谁出"))
    recent = store.recent(alice, 10)
    assert [t.text for t in recent] == ["发票怎么开？", "在订单详情页申请。"]
    assert recent[0].standalone == "发票怎么开？" and recent[1].role == "assistant"
    assert recent[0].embedding.dtype == np.float32 and np.array_equal(recent[0].embedding, vector)
    assert recent[1].embedding is None
    assert [t.text for t in store.recent(bob, 10)] == ["退货运费谁出"], "group members do not share context"


def test_older_turns_skip_the_recent_window_and_conversations_stay_bounded(engine):
    store = SqlConversationStore(engine, max_turns=5)
    key = "api:u1"
    for i in range(8):
        store.append(key, Turn("user", f"q{i}"))
    assert [t.text for t in store.recent(key, 2)] == ["q6", "q7"]
    assert [t.text for t in store.older(key, 2, 10)] == ["q3", "q4", "q5"]
    store.forget(key)
    assert store.recent(key, 10) == []
