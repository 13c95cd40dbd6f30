"""Between the channels and the pipeline: acknowledge at once, answer in the background, once.

A callback handler calls :meth:`Gateway.submit` (fast, never blocks on the pipeline) and returns its
acknowledgement; worker threads then ask the :class:`Responder`, format the answer for the
platform and send it. Along the way:

- **dedupe**: a platform message id is answered once, however often it is delivered (TTL store);
- **group policy**: in groups, answer only when @-mentioned (configurable per group);
- **rate limits**: per user and per group, with one polite reply per window instead of silence;
- **ordering**: messages of one conversation are answered in the order they arrived;
- **isolation**: an error answering one message is logged and apologised for; the bot goes on;
- **counting**: what happened to each message, each reply and how long it took go into the
  ``Telemetry`` given (``assistant_im_*``); :class:`GatewayStats` reads them back.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assistant.domain import Answer
from assistant.telemetry import IM_MESSAGES, IM_REPLIES, IM_REPLY_SECONDS, Tally, Telemetry, total
from assistant.tools.base import Caller
from connectors import format as fmt
from connectors.base import Channel, IncomingMessage, OutgoingMessage
from connectors.settings import GatewaySettings

log = logging.getLogger(__name__)

# queued: will be answered; rate_limited: a polite notice will be sent instead; suppressed: over the
# limit and already told, nothing will be sent; ignored: not for the bot; overloaded: refused, retry.
Admission = Literal["queued", "duplicate", "ignored", "rate_limited", "suppressed", "overloaded"]


# ---------------------------------------------------------------- the answering side


class Responder(Protocol):
    """Answers one message. The default asks the pipeline; memory and tools plug in here."""

    def respond(self, message: IncomingMessage) -> Answer: ...


# Told, after an answer was delivered, the platform's ids of the messages that carried it.
Delivered = Callable[[IncomingMessage, Answer, list[str]], None]


class PipelineResponder:
    """Asks ``pipeline.ask`` with the knowledge bases the chat is configured for.

    The asker goes along as the pipeline's ``caller`` (platform, chat, user; no role, so the
    audience rules decide and customers are the default), and the conversation id (platform +
    chat + user) as ``conversation_id`` as soon as the pipeline accepts it: where memory attaches.
    """

    def __init__(self, pipeline: Callable[[], Any], settings: GatewaySettings):
        self._pipeline = pipeline  # a getter: the pipeline is built lazily, after the models load
        self._settings = settings

    def respond(self, message: IncomingMessage) -> Answer:
        pipeline = self._pipeline()
        accepts = inspect.signature(pipeline.ask).parameters
        kwargs: dict[str, Any] = {"kb_ids": self.kb_for(message)}
        if "caller" in accepts:
            kwargs["caller"] = Caller(
                platform=message.platform, chat_id=message.chat_id, user_id=message.sender_id, role=None
            )
        if "conversation_id" in accepts:
            kwargs["conversation_id"] = message.conversation_id
        return pipeline.ask(message.text, **kwargs)

    def kb_for(self, message: IncomingMessage) -> list[str] | None:
        if message.kb_ids is not None:
            return list(message.kb_ids)
        rule = self._settings.groups.get(message.chat_id)
        if rule is not None and rule.kb is not None:
            return rule.kb
        return self._settings.kb


# ---------------------------------------------------------------- dedupe and rate limits


class DedupeStore(Protocol):
    """Remembers keys for a while. ``claim`` is atomic: True only for the first caller of a key."""

    def claim(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...


class MemoryDedupeStore:
    """In-process TTL set, bounded (oldest forgotten first). One replica; Redis for several."""

    def __init__(self, ttl_s: float, max_entries: int = 200_000, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, in insertion order
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now + self.ttl_s
            if len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[key]


class RateLimiter(Protocol):
    def allow(self, key: str, limit: int, window_s: float) -> bool: ...


class MemoryRateLimiter:
    """Sliding window per key: at most ``limit`` events in any ``window_s`` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, window_s: float) -> bool:
        now = self._clock()
        with self._lock:
            events = self._events.pop(key, None) or deque()
            self._events[key] = events  # most recently used last
            while events and events[0] <= now - window_s:
                events.popleft()
            if len(self._events) > self._max_keys:
                self._events.popitem(last=False)
            if len(events) >= limit:
                return False
            events.append(now)
            return True


# ---------------------------------------------------------------- the gateway


class GatewayStats:
    """The gateway's counters, read from its telemetry (every platform together)."""

    def __init__(self, telemetry: Telemetry):
        self._telemetry = telemetry

    def _admitted(self, *admissions: str) -> int:
        return int(sum(total(self._telemetry, IM_MESSAGES, admission=a) for a in admissions))

    @property
    def received(self) -> int:
        return int(total(self._telemetry, IM_MESSAGES))

    @property
    def duplicates(self) -> int:
        return self._admitted("duplicate")

    @property
    def ignored(self) -> int:
        return self._admitted("ignored")

    @property
    def rate_limited(self) -> int:
        return self._admitted("rate_limited", "suppressed")

    @property
    def overloaded(self) -> int:
        return self._admitted("overloaded")

    @property
    def answered(self) -> int:
        return int(total(self._telemetry, IM_REPLIES, outcome="answered"))

    @property
    def failed(self) -> int:
        return int(total(self._telemetry, IM_REPLIES, outcome="failed"))

    def as_dict(self) -> dict[str, int]:
        names = ("received", "duplicates", "ignored", "rate_limited", "overloaded", "answered", "failed")
        return {name: getattr(self, name) for name in names}


@dataclass
class Job:
    """One admitted message waiting to be answered (or, with ``notice``, politely turned away)."""

    channel: Channel | None  # None when read back from a shared queue: the answering replica looks it up
    message: IncomingMessage
    notice: str | None = None  # a fixed polite reply (a key of format.NOTICES) instead of an answer
    received: float = field(default_factory=time.time)  # wall clock: a job may be answered by another process
    token: Any = None  # the queue's handle on the job while it is being answered


class Lane(Protocol):
    """Where admitted jobs wait. Jobs of one conversation come out one at a time, in arrival order:
    the next is handed out only after ``finish`` of the one before."""

    def accepts(self, job: Job) -> bool: ...

    def put(self, job: Job) -> bool:
        """Queue ``job``; False when the lane is full (the message is refused, to be retried)."""
        ...

    def take(self, timeout: float) -> Job | None:
        """The next job whose conversation nobody is answering, or None after ``timeout``."""
        ...

    def finish(self, job: Job) -> None:
        """``job`` is answered (or given up on): drop it and let its conversation's next one out."""
        ...

    def waiting(self) -> int:
        """Jobs queued and not yet taken (for a shared lane: by any replica)."""
        ...

    def close(self) -> None: ...


class MemoryLane:
    """In this process: what one replica admitted, only it answers, and a crash loses."""

    def __init__(self, size: int):
        self.size = size
        self._pending: dict[str, deque[Job]] = {}  # conversation id -> its jobs, in arrival order
        self._waiting = 0
        self._ready: queue.SimpleQueue[str] = queue.SimpleQueue()  # conversations with a job nobody holds
        self._lock = threading.Lock()

    def accepts(self, job: Job) -> bool:
        return True

    def put(self, job: Job) -> bool:
        cid = job.message.conversation_id
        with self._lock:
            if self._waiting >= self.size:
                return False
            self._waiting += 1
            jobs = self._pending.get(cid)
            if jobs is None:
                self._pending[cid] = deque([job])
                self._ready.put(cid)
            else:
                jobs.append(job)  # handed out after the one before it is finished
        return True

    def take(self, timeout: float) -> Job | None:
        try:
            cid = self._ready.get(timeout=timeout)
        except queue.Empty:
            return None
        with self._lock:
            self._waiting -= 1
            return self._pending[cid][0]

    def finish(self, job: Job) -> None:
        cid = job.message.conversation_id
        with self._lock:
            jobs = self._pending[cid]
            jobs.popleft()
            if jobs:
                self._ready.put(cid)
            else:
                del self._pending[cid]

    def waiting(self) -> int:
        return self._waiting

    def close(self) -> None:
        pass


class Gateway:
    """Admits messages from every channel and answers them on a pool of worker threads.

    Jobs wait in ``lane`` (in this process by default; in Redis, shared by every replica, when
    given), except those whose channel can only reply from this process (a socket it holds): those
    wait in memory. ``channels`` finds the channel of a job read back from a shared lane.
    """

    def __init__(
        self,
        responder: Responder,
        settings: GatewaySettings,
        *,
        dedupe: DedupeStore | None = None,
        limiter: RateLimiter | None = None,
        lane: Lane | None = None,
        channels: Callable[[str, str], Channel] | None = None,
        delivered: Delivered | None = None,
        telemetry: Telemetry | None = None,
    ):
        self.responder = responder
        self.telemetry = telemetry or Tally()
        self.delivered = delivered
        self.settings = settings
        self.dedupe = dedupe or MemoryDedupeStore(settings.dedupe_ttl_s, settings.dedupe_max_entries)
        self.limiter = limiter or MemoryRateLimiter()
        self.channels = channels
        self.stats = GatewayStats(self.telemetry)
        self._local = MemoryLane(settings.queue_size)  # this process's; the only one without a shared lane
        self._lanes: list[Lane] = [lane, self._local] if lane else [self._local]
        self._busy = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- admission (runs in the callback handler: cheap, one round trip to Redis at most per store)

    def submit(self, channel: Channel, message: IncomingMessage) -> Admission:
        """Decide what happens to a verified message and queue its answer; returns at once.

        Called from the callback handlers and from the long-connection threads alike.
        """
        admission = self._admit(channel, message)
        self.telemetry.count(IM_MESSAGES, platform=message.platform, admission=admission)
        return admission

    def _admit(self, channel: Channel, message: IncomingMessage) -> Admission:
        if not self.dedupe.claim(message.dedupe_key):
            return "duplicate"
        if not self._wanted(message):
            return "ignored"
        within_limits, notice = self._rate_check(message)
        if not within_limits and notice is None:
            return "suppressed"  # already told this window: stay quiet
        if not self._enqueue(Job(channel, message, notice)):
            self.dedupe.release(message.dedupe_key)  # let the platform's retry through later
            return "overloaded"
        return "queued" if within_limits else "rate_limited"

    @property
    def queued(self) -> int:
        """Messages waiting for a worker (in a shared lane: waiting for any replica's)."""
        return sum(lane.waiting() for lane in self._lanes)

    def wants(self, message: IncomingMessage) -> bool:
        """Whether the group policy has the bot answer this message (no counter or limit touched)."""
        return self._wanted(message)

    def _wanted(self, message: IncomingMessage) -> bool:
        if not message.text.strip():
            return False
        if not message.is_group:
            return True
        rule = self.settings.groups.get(message.chat_id)
        if rule is not None and not rule.enabled:
            return False
        require = self.settings.require_mention
        if rule is not None and rule.require_mention is not None:
            require = rule.require_mention
        return message.mentioned or not require

    def _rate_check(self, message: IncomingMessage) -> tuple[bool, str | None]:
        """``(within limits, notice)``: over a limit, the polite notice is sent once per window."""
        s = self.settings
        checks = [(f"user:{message.platform}:{message.sender_id}", s.user_rate, fmt.RATE_LIMITED_USER)]
        if message.is_group:
            checks.append((f"group:{message.platform}:{message.chat_id}", s.group_rate, fmt.RATE_LIMITED_GROUP))
        for key, limit, notice in checks:
            if not self.limiter.allow(key, limit, s.rate_window_s):
                first_time = self.limiter.allow(f"notice:{key}", 1, s.rate_window_s)
                return False, notice if first_time else None
        return True, None

    def _enqueue(self, job: Job) -> bool:
        lane = next(lane for lane in self._lanes if lane.accepts(job))
        return lane.put(job)

    # -- workers

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        for n, lane in enumerate(self._lanes):
            for i in range(self.settings.workers):
                thread = threading.Thread(target=self._work, args=(lane,), name=f"gateway-{n}-{i}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is being answered and what waits in memory (up to ``timeout``), then stop the
        workers; jobs in a shared lane stay there for the other replicas."""
        deadline = time.monotonic() + timeout
        self._wait(lambda: self._local.waiting() == 0 and self._busy == 0, timeout)
        self._stopping.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        self._threads = []
        for lane in self._lanes:
            lane.close()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or being answered; False on timeout."""
        return self._wait(lambda: self.queued == 0 and self._busy == 0, timeout)

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))  # a shared lane empties without telling this process
        return True

    def _work(self, lane: Lane) -> None:
        while not self._stopping.is_set():
            try:
                job = lane.take(0.5)
            except Exception as exc:  # Redis away for a moment: wait, never die
                log.warning("gateway could not take a job: %s", type(exc).__name__)
                self._stopping.wait(1.0)
                continue
            if job is None:
                continue
            with self._lock:
                self._busy += 1
            ok = False
            try:
                ok = self._answer(job)
            finally:
                try:
                    lane.finish(job)
                except Exception as exc:
                    log.warning("gateway could not mark a job finished: %s", type(exc).__name__)
                platform = job.message.platform
                self.telemetry.count(IM_REPLIES, platform=platform, outcome="answered" if ok else "failed")
                if ok:
                    self.telemetry.observe(IM_REPLY_SECONDS, max(0.0, time.time() - job.received), platform=platform)
                with self._lock:
                    self._busy -= 1
                    self._idle.notify_all()

    def _answer(self, job: Job) -> bool:
        """Answer one job; False (logged, apologised for) when it failed."""
        message = job.message
        try:
            channel = job.channel or self._channel(message)
        except Exception as exc:
            log.error("no channel to answer %s message %s: %s", message.platform, message.message_id, exc)
            return False
        replies: list[OutgoingMessage] = []
        try:
            answer = None
            if job.notice is not None:
                replies = [fmt.notice(job.notice, message, channel)]
            else:
                answer = self.responder.respond(message)
                replies = fmt.render(answer, message, channel)
            sent = [channel.send(reply) for reply in replies]
            if answer is not None and self.delivered is not None:
                _tell_delivered(self.delivered, message, answer, [s for s in sent if s])
            return True
        except Exception as exc:  # one bad message must never stop the bot
            log.error(
                "answering %s message %s failed: %s: %s",
                message.platform, message.message_id, type(exc).__name__, exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            if not replies:  # answering failed; when sending failed, an apology would fail too
                self._apologise(channel, message)
            return False

    def _channel(self, message: IncomingMessage) -> Channel:
        if self.channels is None:
            raise LookupError("the gateway was given no channels to look bots up in")
        return self.channels(message.platform, message.bot)

    def _apologise(self, channel: Channel, message: IncomingMessage) -> None:
        try:
            channel.send(fmt.notice(fmt.FAILED, message, channel))
        except Exception as exc:
            log.warning("could not tell %s the answer failed: %s", message.platform, type(exc).__name__)


def _tell_delivered(delivered: Delivered, message: IncomingMessage, answer: Answer, sent: list[str]) -> None:
    """The answer is out: a failure to note where it went is logged, never apologised for."""
    try:
        delivered(message, answer, sent)
    except Exception as exc:
        log.warning("could not note the %s messages of answer %s: %s", message.platform, answer.answer_id,
                    type(exc).__name__)
