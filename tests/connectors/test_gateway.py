"""The gateway: once per message, mentions in groups, polite rate limits, order per conversation, no crash."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.base import (
    CallbackRequest,
    CallbackResult,
    Channel,
    IncomingMessage,
    OutgoingMessage,
    SendFailed,
)
from connectors.gateway import (
    Gateway,
    MemoryDedupeStore,
    MemoryRateLimiter,
    PipelineResponder,
)
from connectors.settings import GatewaySettings, GroupRule


class RecordingChannel(Channel):
    platform = "fake"
    bot = "default"

    def __init__(self, fail_sends: int = 0):
        self.sent: list[OutgoingMessage] = []
        self.fail_sends = fail_sends
        self._lock = threading.Lock()

    def verify(self, request: CallbackRequest) -> None: ...

    def parse(self, request: CallbackRequest) -> CallbackResult: ...

    def send(self, message: OutgoingMessage) -> None:
        with self._lock:
            if self.fail_sends:
                self.fail_sends -= 1
                raise SendFailed("fake", "HTTP 500")
            self.sent.append(message)

    def texts(self) -> list[str]:
        return [m.reply_to.text for m in self.sent]


def msg(n: int | str, text: str = "电子发票怎么开？", *, user: str = "u1", chat: str = "c1", group: bool = False,
        mentioned: bool = True) -> IncomingMessage:
    return IncomingMessage("fake", "default", f"m{n}", chat, "group" if group else "p2p", user, text, mentioned=mentioned)


@pytest.fixture
def gateway(responder):
    gateways: list[Gateway] = []

    def make(**overrides) -> Gateway:
        g = Gateway(responder, GatewaySettings(**{"workers": 2, **overrides}))
        g.start()
        gateways.append(g)
        return g

    yield make
    for g in gateways:
        g.stop(timeout=2)


def test_the_same_message_delivered_three_times_is_answered_once(gateway, responder):
    g, channel = gateway(), RecordingChannel()
    assert [g.submit(channel, msg(1)) for _ in range(3)] == ["queued", "duplicate", "duplicate"]
    assert g.wait_idle(5)
    assert len(responder.seen) == 1 and len(channel.sent) == 1
    assert g.stats.duplicates == 2


def test_in_groups_only_mentions_are_answered_unless_the_group_says_otherwise(gateway, responder):
    g = gateway(groups={"open-group": GroupRule(require_mention=False), "muted": GroupRule(enabled=False)})
    channel = RecordingChannel()
    assert g.submit(channel, msg(1, chat="team", group=True, mentioned=False)) == "ignored"
    assert g.submit(channel, msg(2, chat="team", group=True, mentioned=True)) == "queued"
    assert g.submit(channel, msg(3, chat="open-group", group=True, mentioned=False)) == "queued"
    assert g.submit(channel, msg(4, chat="muted", group=True, mentioned=True)) == "ignored"
    assert g.submit(channel, msg(5, text="   ")) == "ignored"
    assert g.wait_idle(5)
    assert sorted(m.message_id for m in responder.seen) == ["m2", "m3"]


def test_a_user_over_the_limit_gets_one_polite_reply_then_silence(gateway, responder):
    g, channel = gateway(user_rate=2), RecordingChannel()
    admissions = [g.submit(channel, msg(i)) for i in range(5)]
    assert admissions == ["queued", "queued", "rate_limited", "suppressed", "suppressed"]
    assert g.wait_idle(5)
    assert len(responder.seen) == 2
    notices = [m for m in channel.sent if "稍等" in m.markdown]
    assert len(notices) == 1 and len(channel.sent) == 3
    assert g.submit(channel, msg(9, user="u2")) == "queued"  # other users are not affected


def test_a_busy_group_is_limited_across_its_members(gateway):
    g, channel = gateway(group_rate=3, user_rate=10), RecordingChannel()
    admissions = [g.submit(channel, msg(i, user=f"u{i}", chat="g1", group=True)) for i in range(5)]
    assert admissions == ["queued"] * 3 + ["rate_limited", "suppressed"]
    assert g.wait_idle(5)
    assert sum("群里" in m.markdown for m in channel.sent) == 1


def test_one_conversation_is_answered_in_arrival_order_while_others_run_in_parallel(gateway, responder):
    responder.delay_s = 0.05
    g, channel = gateway(workers=4), RecordingChannel()
    for i in range(6):
        g.submit(channel, msg(f"a{i}", text=f"问题A{i}", user="alice"))
        g.submit(channel, msg(f"b{i}", text=f"问题B{i}", user="bob"))
    started = time.monotonic()
    assert g.wait_idle(10)
    alice = [t for t in channel.texts() if t.startswith("问题A")]
    bob = [t for t in channel.texts() if t.startswith("问题B")]
    assert alice == [f"问题A{i}" for i in range(6)] and bob == [f"问题B{i}" for i in range(6)]
    assert time.monotonic() - started < 6 * 0.05 * 2 * 0.9  # the two conversations overlapped


def test_an_error_on_one_message_is_apologised_for_and_the_next_is_still_answered(gateway, responder):
    responder.fail_on = "坏"
    g, channel = gateway(workers=1), RecordingChannel()
    g.submit(channel, msg(1, text="坏问题"))
    g.submit(channel, msg(2, text="好问题"))
    assert g.wait_idle(5)
    assert [m.reply_to.message_id for m in channel.sent] == ["m1", "m2"]
    assert "没能处理好" in channel.sent[0].markdown and "[1]" in channel.sent[1].markdown
    assert g.stats.failed == 1 and g.stats.answered == 1


def test_a_failing_send_does_not_stop_the_workers(gateway):
    g, channel = gateway(workers=1), RecordingChannel(fail_sends=1)
    g.submit(channel, msg(1))
    g.submit(channel, msg(2, user="u2"))
    assert g.wait_idle(5)
    assert [m.reply_to.message_id for m in channel.sent] == ["m2"]


def test_a_full_queue_refuses_and_forgets_the_message_so_a_retry_can_get_in(gateway, responder):
    responder.delay_s = 0.3
    g, channel = gateway(workers=1, queue_size=1), RecordingChannel()
    g.submit(channel, msg(1, user="a"))
    deadline = time.monotonic() + 5
    while not responder.seen and time.monotonic() < deadline:  # the worker takes m1: the queue is empty again
        time.sleep(0.005)
    assert g.submit(channel, msg(2, user="b")) == "queued"
    assert g.submit(channel, msg(3, user="c")) == "overloaded"
    assert g.wait_idle(5)
    assert g.submit(channel, msg(3, user="c")) == "queued"  # the redelivery is not a "duplicate"


def test_dedupe_store_forgets_after_its_ttl_and_stays_bounded():
    now = [0.0]
    store = MemoryDedupeStore(ttl_s=10, max_entries=3, clock=lambda: now[0])
    assert store.claim("a") and not store.claim("a")
    now[0] = 11
    assert store.claim("a")
    for key in "bcde":
        store.claim(key)
    assert len(store) == 3


def test_rate_limiter_window_slides():
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.allow("k", 2, 60) for _ in range(3)] == [True, True, False]
    now[0] = 61
    assert limiter.allow("k", 2, 60)


def test_pipeline_responder_passes_kbs_the_asker_as_caller_and_the_conversation_id_when_supported(make_answer):
    calls = []

    class MemoryPipeline:
        def ask(self, question, *, kb_ids=None, caller=None, conversation_id=None):
            calls.append((question, kb_ids, caller, conversation_id))
            return make_answer(question, "ok")

    class PlainPipeline:
        def ask(self, question, *, kb_ids=None):
            calls.append((question, kb_ids))
            return make_answer(question, "ok")

    settings = GatewaySettings(kb=["support"], groups={"g1": GroupRule(kb=["finance"])})
    PipelineResponder(MemoryPipeline, settings).respond(msg(1, text="退款", chat="g1", group=True))
    PipelineResponder(PlainPipeline, settings).respond(msg(2, text="发票"))
    question, kbs, caller, conversation = calls[0]
    assert (question, kbs, conversation) == ("退款", ["finance"], "fake:g1:u1")
    # No role: the audience rules decide, and an IM user is a customer unless configured otherwise.
    assert (caller.platform, caller.chat_id, caller.user_id, caller.role) == ("fake", "g1", "u1", None)
    assert calls[1] == ("发票", ["support"])
