"""Dedupe and rate limits in the local Redis: two replicas answer a redelivered message once."""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.app import shared_stores
from connectors.base import IncomingMessage
from connectors.gateway import Gateway
from connectors.settings import GatewaySettings

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


def replicas(prefix: str, responder, **overrides) -> list[Gateway]:
    """Two gateways, as two API replicas would build them from one configuration."""
    settings = GatewaySettings(redis_url=REDIS_URL, workers=1, **overrides)
    gateways = []
    for _ in range(2):
        stores = shared_stores(settings)
        stores["dedupe"].prefix = prefix + stores["dedupe"].prefix
        stores["limiter"].prefix = prefix + stores["limiter"].prefix
        gateways.append(Gateway(responder, settings, **stores))
    return gateways


def message(n: int, user: str = "u1") -> IncomingMessage:
    return IncomingMessage("dingtalk", "support", f"m{n}", "c1", "p2p", user, "退款多久到账？", mentioned=True)


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
