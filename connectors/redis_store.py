"""Dedupe, rate limits and the queue of admitted messages in Redis, shared by every replica
(``gateway.redis_url``).

The same interfaces as the in-process ones of :mod:`connectors.gateway`: a message redelivered to
another replica is still answered once, a user's limit counts across replicas, and a message one
replica acknowledged is answered by another if it dies. Each step is one round trip (Lua scripts,
so check-and-change is atomic).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import fields
from typing import Any

log = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- the shared lane of admitted messages

# Keys (under the prefix): ``conv:<id>`` a conversation's jobs in arrival order, its head being
# answered while the conversation is leased; ``ready`` conversations with work nobody holds;
# ``active`` conversations that are ready or leased; ``lease`` (sorted set) leased conversation ->
# expiry in ms of Redis' clock; ``owner`` conversation -> the worker holding it; ``waiting`` jobs not
# yet taken; ``wake`` tokens the idle workers block on.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

_PUT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[1])
if redis.call('SADD', KEYS[3], ARGV[3]) == 1 then redis.call('RPUSH', KEYS[4], ARGV[3]) end
redis.call('RPUSH', KEYS[5], '1')
redis.call('LTRIM', KEYS[5], -64, -1)
return 1
"""

_TAKE = _NOW + """
local cid = redis.call('LPOP', KEYS[1])
if not cid then return false end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), cid)
redis.call('HSET', KEYS[3], cid, ARGV[2])
redis.call('DECR', KEYS[4])
return {cid, redis.call('LINDEX', ARGV[3] .. cid, 0)}
"""

_FINISH = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('LPOP', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('RPUSH', KEYS[5], ARGV[1])
  redis.call('RPUSH', KEYS[6], '1')
  redis.call('LTRIM', KEYS[6], -64, -1)
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
"""

_RENEW = _NOW + """
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[2] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  end
end
return 1
"""

# A lease that ran out: its holder died (or stalled past the lease). The conversation goes back to
# the front of ``ready`` with its head job, to be answered by whoever takes it next.
_REAP = _NOW + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, cid in ipairs(expired) do
  redis.call('ZREM', KEYS[1], cid)
  redis.call('HDEL', KEYS[2], cid)
  redis.call('LPUSH', KEYS[3], cid)
  redis.call('INCR', KEYS[4])
  redis.call('RPUSH', KEYS[5], '1')
end
redis.call('LTRIM', KEYS[5], -64, -1)
return #expired
"""


class RedisLane:
    """Admitted messages in Redis, answered by whichever replica's worker takes them first.

    A replica that acknowledged a message and then died loses nothing: the conversation it was
    answering is leased, not popped; its lease (renewed every third of ``lease_s`` while the
    answer is worked on) runs out and a survivor answers the job. Jobs of one conversation are
    handed out one at a time, in arrival order, across replicas. A worker that dies after sending
    its reply but before ``finish`` has its job answered again: the window is one Redis round trip.

    Only jobs whose channel can reply from any replica come here (``Channel.portable``: not a
    socket held by this process) and whose platform reply data is plain JSON.
    """

    def __init__(self, client: Any, size: int, *, lease_s: float = 15.0, prefix: str = "assistant:im:"):
        self.client = client
        self.size = size
        self.lease_ms = max(1000, int(lease_s * 1000))
        self.prefix = prefix
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._put, self._take, self._finish, self._renew, self._reap = (
            client.register_script(s) for s in (_PUT, _TAKE, _FINISH, _RENEW, _REAP))
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._closed = threading.Event()
        self._keeper: threading.Thread | None = None

    def _key(self, name: str) -> str:
        return self.prefix + name

    def accepts(self, job: Any) -> bool:
        if job.channel is not None and not getattr(job.channel, "portable", True):
            return False
        try:
            json.dumps(dict(job.message.reply))
        except (TypeError, ValueError):
            return False
        return True

    def put(self, job: Any) -> bool:
        cid = job.message.conversation_id
        keys = [self._key("waiting"), self._key("conv:" + cid), self._key("active"), self._key("ready"),
                self._key("wake")]
        return bool(self._put(keys=keys, args=[self.size, _dump(job), cid]))

    def take(self, timeout: float) -> Any:
        self._keep_leases()
        taken = self._take_once()
        if taken is None:
            self.client.blpop([self._key("wake")], timeout=timeout)
            taken = self._take_once()
        return taken

    def _take_once(self) -> Any:
        keys = [self._key("ready"), self._key("lease"), self._key("owner"), self._key("waiting")]
        found = self._take(keys=keys, args=[self.lease_ms, self.me, self._key("conv:")])
        if not found:
            return None
        values = [v.decode() if isinstance(v, bytes) else v for v in found]
        cid, payload = values[0], values[1] if len(values) > 1 else None  # Lua drops a trailing nil
        with self._held_lock:
            self._held.add(cid)
        if payload is None:  # cannot happen unless someone deleted the list by hand: release it
            self._finish_cid(cid)
            return None
        job = _load(payload)
        job.token = cid
        return job

    def finish(self, job: Any) -> None:
        self._finish_cid(job.token)

    def _finish_cid(self, cid: str) -> None:
        keys = [self._key("conv:" + cid), self._key("lease"), self._key("owner"), self._key("active"),
                self._key("ready"), self._key("wake")]
        try:
            if not self._finish(keys=keys, args=[cid, self.me]):
                log.warning("a conversation's lease ran out while it was being answered; another replica "
                            "may answer its message again")
        finally:
            with self._held_lock:
                self._held.discard(cid)

    def waiting(self) -> int:
        return int(self.client.get(self._key("waiting")) or 0)

    def close(self) -> None:
        self._closed.set()
        if self._keeper is not None:
            self._keeper.join(5.0)
            self._keeper = None

    def reap(self) -> int:
        """Put conversations whose lease ran out back in line; how many."""
        keys = [self._key("lease"), self._key("owner"), self._key("ready"), self._key("waiting"), self._key("wake")]
        return int(self._reap(keys=keys))

    def _keep_leases(self) -> None:
        if self._keeper is None and not self._closed.is_set():
            with self._held_lock:
                if self._keeper is None:
                    self._keeper = threading.Thread(target=self._keep, name="gateway-leases", daemon=True)
                    self._keeper.start()

    def _keep(self) -> None:
        """Renew this process's leases and take back the dead's, every third of a lease."""
        while not self._closed.wait(self.lease_ms / 3000):
            try:
                with self._held_lock:
                    held = sorted(self._held)
                if held:
                    self._renew(keys=[self._key("lease"), self._key("owner")], args=[self.lease_ms, self.me, *held])
                if self.reap():
                    log.warning("took back messages whose replica stopped answering them")
            except Exception as exc:  # Redis away for a moment: try again next round
                log.warning("could not renew the gateway's leases: %s", type(exc).__name__)


def _dump(job: Any) -> str:
    message = {f.name: getattr(job.message, f.name) for f in fields(job.message)}
    message["reply"] = dict(message["reply"])
    return json.dumps({"message": message, "notice": job.notice, "received": job.received}, ensure_ascii=False)


def _load(payload: str) -> Any:
    from connectors.base import IncomingMessage
    from connectors.gateway import Job

    data = json.loads(payload)
    message = data["message"]
    if message.get("kb_ids") is not None:
        message["kb_ids"] = tuple(message["kb_ids"])
    return Job(None, IncomingMessage(**message), data.get("notice"), data["received"])
