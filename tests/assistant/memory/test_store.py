"""Conversation turns persist per platform + chat + user, in order, bounded."""

from __future__ import annotations

import numpy as np
from sqlalchemy import create_engine

from assistant.memory.store import SqlConversationStore, Turn, conversation_key


def test_turns_come_back_in_order_per_conversation_with_their_embeddings(tmp_path):
    store = SqlConversationStore(create_engine(f"sqlite:///{tmp_path / 'c.db'}"))
    alice = conversation_key("feishu", "oc_group", "ou_alice")
    bob = conversation_key("feishu", "oc_group", "ou_bob")
    store.append(alice, Turn("user", "发票怎么开？", "发票怎么开？", np.ones(4, dtype=np.float32)))
    store.append(alice, Turn("assistant", "在订单详情页申请。"))
    store.append(bob, Turn("user", "退货运费谁出"))
    recent = store.recent(alice, 10)
    assert [t.text for t in recent] == ["发票怎么开？", "在订单详情页申请。"]
    assert np.allclose(recent[0].embedding, 1.0) and recent[1].embedding is None
    assert [t.text for t in store.recent(bob, 10)] == ["退货运费谁出"], "group members do not share context"


def test_older_turns_skip_the_recent_window_and_conversations_stay_bounded(tmp_path):
    store = SqlConversationStore(create_engine(f"sqlite:///{tmp_path / 'c.db'}"), max_turns=5)
    key = conversation_key("api", "-", "u1")
    for i in range(8):
        store.append(key, Turn("user", f"q{i}"))
    assert [t.text for t in store.recent(key, 2)] == ["q6", "q7"]
    assert [t.text for t in store.older(key, 2, 10)] == ["q3", "q4", "q5"]
    store.forget(key)
    assert store.recent(key, 10) == []
