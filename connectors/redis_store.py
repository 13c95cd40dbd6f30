"""Dedupe and rate limits in Redis, shared by every replica (``gateway.redis_url``).

The same interfaces as the in-process stores of :mod:`connectors.gateway`: a message redelivered to
another replica is still answered once, and a user's limit counts across replicas. Each check is
one round trip (the sliding window is a Lua script, so check-and-count is atomic).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 1
"""


def redis_client(url: str) -> Any:
    import redis  # lazy: only when a Redis URL is configured

    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


class RedisDedupeStore:
    """``SET key 1 NX PX ttl``: the first claimer of a message id wins, on any replica."""

    def __init__(self, client: Any, ttl_s: float, *, prefix: str = "assistant:dedupe:"):
        self.client = client
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.prefix = prefix

    def claim(self, key: str) -> bool:
        return bool(self.client.set(self.prefix + key, b"1", nx=True, px=self.ttl_ms))

    def release(self, key: str) -> None:
        self.client.delete(self.prefix + key)


class RedisRateLimiter:
    """Sliding window per key in a sorted set of event times, trimmed and counted atomically."""

    def __init__(self, client: Any, *, prefix: str = "assistant:rate:"):
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    def allow(self, key: str, limit: int, window_s: float) -> bool:
        now = time.time()
        return bool(self._script(keys=[self.prefix + key], args=[now, window_s, limit, f"{now}:{uuid.uuid4().hex}"]))
