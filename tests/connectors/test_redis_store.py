"""Dedupe and rate limits in the local Redis: two replicas answer a redelivered message once."""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.app import shared_stores
from connectors.base import IncomingMessage
from connectors.gateway import Gateway
from connectors.settings import GatewaySettings
from tests.connectors.test_gateway import RecordingChannel

pytestmark = pytest.mark.services
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_prefix():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def replicas(prefix: str, responder, channel=None, **overrides) -> list[Gateway]:
    """Two gateways, as two API replicas would build them from one configuration."""
    settings = GatewaySettings(**{"redis_url": REDIS_URL, "workers": 1, **overrides})
    gateways = []
    for _ in range(2):
        stores = shared_stores(settings, prefix=prefix)
        gateways.append(Gateway(responder, settings, channels=lambda platform, bot: channel, **stores))
    return gateways


def message(n: int, user: str = "u1", chat: str = "c1", text: str = "退款多久到账？") -> IncomingMessage:
    return IncomingMessage("dingtalk", "support", f"m{n}", chat, "p2p", user, text, mentioned=True,
                           reply={"webhook": f"https://oapi.dingtalk.com/robot/sendBySession?session={n}"})


class Recording(RecordingChannel):
    platform, bot = "dingtalk", "support"


def test_a_message_redelivered_to_another_replica_is_admitted_once(redis_prefix, responder):
    a, b = replicas(redis_prefix, responder)
    channel = object()
    assert a.submit(channel, message(1)) == "queued"  # type: ignore[arg-type]
    assert b.submit(channel, message(1)) == "duplicate"  # type: ignore[arg-type]
    assert b.submit(channel, message(2)) == "queued"  # type: ignore[arg-type]


def test_a_users_rate_limit_counts_across_replicas(redis_prefix, responder):
    a, b = replicas(redis_prefix, responder, user_rate=2)
    channel = object()
    admissions = [g.submit(channel, message(i)) for i, g in enumerate([a, b, a, b])]  # type: ignore[arg-type]
    assert admissions == ["queued", "queued", "rate_limited", "suppressed"]


def test_dedupe_entries_expire_after_the_ttl(redis_prefix, responder):
    a, b = replicas(redis_prefix, responder, dedupe_ttl_s=0.3)
    assert a.dedupe.claim("k") and not b.dedupe.claim("k")
    time.sleep(0.4)
    assert b.dedupe.claim("k")


def test_messages_one_replica_acknowledged_are_answered_by_the_other_once_each_in_order(redis_prefix, responder):
    channel = Recording()
    a, b = replicas(redis_prefix, responder, channel, workers=2)
    texts = {chat: [f"{chat} 第{i}问" for i in range(6)] for chat in ("c1", "c2", "c3")}
    n = 0
    for i in range(6):
        for chat in texts:
            n += 1
            assert a.submit(channel, message(n, user=f"u-{chat}", chat=chat, text=texts[chat][i])) == "queued"
    assert a.queued == b.queued == 18, "the queue is in Redis: every replica sees it"
    b.start()  # replica A never answers: as if it died right after acknowledging
    try:
        assert b.wait_idle(20), b.queued
    finally:
        b.stop(2)
    replies = [m.reply_to for m in channel.sent]
    assert sorted(m.message_id for m in replies) == sorted(f"m{i}" for i in range(1, 19)), "each once"
    for chat, asked in texts.items():
        assert [m.text for m in replies if m.chat_id == chat] == asked, "a conversation's questions in order"
    assert replies[0].reply["webhook"].startswith("https://oapi.dingtalk.com/"), "the platform's reply data travels"
    assert b.stats.answered == 18 and a.stats.answered == 0


def test_a_conversation_held_by_a_replica_that_died_is_answered_by_another_after_the_lease(redis_prefix, responder):
    channel = Recording()
    a, b = replicas(redis_prefix, responder, channel, lease_s=1.0)
    for n, text in enumerate(["第一问", "第二问"], 1):
        assert a.submit(channel, message(n, text=text)) == "queued"
    dead = a._lanes[0]
    held = dead._take_once()  # replica A takes the first question, then dies: no renewal, no finish
    assert held.message.text == "第一问"
    started = time.monotonic()
    b.start()
    try:
        assert b.wait_idle(20)
    finally:
        b.stop(2)
    assert [m.reply_to.text for m in channel.sent] == ["第一问", "第二问"], "taken back, in order, once"
    assert 0.8 < time.monotonic() - started < 10, "after the lease ran out, not before"
    dead.finish(held)  # were A only slow, its late finish changes nothing
    assert b.queued == 0


def test_a_full_shared_queue_refuses_and_lets_the_retry_in_later(redis_prefix, responder):
    channel = Recording()
    a, b = replicas(redis_prefix, responder, channel, queue_size=2)
    assert [a.submit(channel, message(n, user=f"u{n}", chat=f"c{n}")) for n in (1, 2, 3)] == \
        ["queued", "queued", "overloaded"]
    b.start()
    try:
        assert b.wait_idle(10)
        assert a.submit(channel, message(3, user="u3", chat="c3")) == "queued", "the refused message was not remembered"
        assert b.wait_idle(10)
    finally:
        b.stop(2)
    assert sorted(m.reply_to.message_id for m in channel.sent) == ["m1", "m2", "m3"]


def test_messages_of_a_socket_bound_channel_wait_in_the_replica_that_holds_the_socket(redis_prefix, responder):
    class Socketed(Recording):
        portable = False

    channel = Socketed()
    a, b = replicas(redis_prefix, responder, channel)
    assert a.submit(channel, message(1)) == "queued"
    assert b.queued == 0, "not in the shared queue"
    a.start()
    try:
        assert a.wait_idle(10)
    finally:
        a.stop(2)
    assert [m.reply_to.message_id for m in channel.sent] == ["m1"]
