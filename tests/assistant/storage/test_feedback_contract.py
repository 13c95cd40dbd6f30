"""The ``Feedback`` contract, on every SQL backend: one vote per principal and answer, gaps counted by
question and filtered by visibility in the database, and the IM messages that carried answers."""

from __future__ import annotations

import threading

import pytest

from assistant.domain import AuditEntry, GapQuery
from assistant.storage.interfaces import ImReply
from assistant.storage.sql.feedback import SqlFeedback


@pytest.fixture
def store(engine) -> SqlFeedback:
    return SqlFeedback(engine)


def asked(question: str, kbs=("fin",), departments=("finance",), answer: str = "抱歉") -> AuditEntry:
    return AuditEntry(kind="question", question=question, answer=answer, kbs=list(kbs), departments=list(departments))


def test_a_second_vote_replaces_the_first(store):
    assert store.vote(7, "user:wang", "up") is False
    assert store.vote(7, "user:wang", "down", comment="不对", channel="api") is True
    store.vote(7, "key:k_1", "up")
    votes = {v.principal_id: v for v in store.votes(7)}
    assert (votes["user:wang"].vote, votes["user:wang"].comment) == ("down", "不对")
    assert votes["key:k_1"].vote == "up" and len(store.votes(7)) == 2 and store.votes(8) == []


def test_votes_racing_from_many_threads_leave_one_row_per_principal(store):
    threads = [threading.Thread(target=store.vote, args=(9, "user:wang", "up" if n % 2 else "down")) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.votes(9)) == 1


def test_the_same_question_opens_one_gap_and_counts_how_often_it_came_up(store):
    first = store.open_gap(1, asked("退款多久到账？"), "refused")
    assert (first.status, first.reason, first.asked, first.kbs) == ("open", "refused", 1, ["fin"])
    again = store.open_gap(2, asked(" 退款多久到账 "), "downvoted")  # spaces and end punctuation do not count
    assert again.id == first.id and again.asked == 2
    assert store.open_gap(1, asked("退款多久到账"), "downvoted").asked == 2, "the answer that opened it: no count"
    other_kbs = store.open_gap(3, asked("退款多久到账？", kbs=("sal",)), "refused")
    other_department = store.open_gap(4, asked("退款多久到账？", departments=("sales",)), "refused")
    assert len({first.id, other_kbs.id, other_department.id}) == 3
    assert store.gap(first.id).asked == 2 and store.gap(12345) is None


def test_a_resolved_gap_is_not_reopened_by_its_answer_but_the_question_opens_a_new_one(store):
    gap = store.open_gap(1, asked("发票抬头能改吗"), "refused")
    assert store.resolve_gap(gap.id, "dismissed", by="user:wang") is True
    assert store.resolve_gap(gap.id, "curated", by="user:wang") is False, "resolved once"
    closed = store.gap(gap.id)
    assert (closed.status, closed.resolved_by) == ("dismissed", "user:wang") and closed.resolved_at is not None
    assert store.open_gap(1, asked("发票抬头能改吗"), "downvoted").status == "dismissed"
    fresh = store.open_gap(5, asked("发票抬头能改吗"), "refused")
    assert fresh.id != gap.id and fresh.status == "open"
    store.resolve_gap(fresh.id, "curated", by="user:wang", curated_doc="curated-1")
    assert store.gap(fresh.id).curated_doc == "curated-1"


def test_gaps_are_listed_newest_first_paged_and_filtered_by_what_the_reader_may_see(store):
    store.open_gap(1, asked("财务问题一", kbs=("fin",), departments=("finance",)), "refused")
    store.open_gap(2, asked("两个库的问题", kbs=("fin", "sal"), departments=("finance",)), "refused")
    store.open_gap(3, asked("销售问题", kbs=("sal",), departments=("sales",)), "refused")
    store.open_gap(4, asked("客户问题", kbs=("fin",), departments=()), "refused")
    store.open_gap(5, asked("没有库的问题", kbs=(), departments=()), "refused")
    store.open_gap(6, asked("相似库名", kbs=("fin2",), departments=("finance",)), "refused")
    everything = store.gaps(GapQuery())
    assert everything.total == 6 and [g.entry_id for g in everything.gaps] == [6, 5, 4, 3, 2, 1]
    page = store.gaps(GapQuery(offset=1, limit=2))
    assert page.total == 6 and [g.entry_id for g in page.gaps] == [5, 4]
    finance = store.gaps(GapQuery(readable_kbs=["fin"], departments=["finance"]))
    assert [g.entry_id for g in finance.gaps] == [4, 1] and finance.total == 2
    both = store.gaps(GapQuery(readable_kbs=["fin", "sal"], departments=["finance"]))
    assert [g.entry_id for g in both.gaps] == [4, 2, 1]
    assert store.gaps(GapQuery(readable_kbs=["sal"], departments=["sales"])).total == 1
    assert store.gaps(GapQuery(readable_kbs=["fin"], departments=["fin_nce"])).total == 1, "_ is no wildcard"
    store.resolve_gap(everything.gaps[-1].id, "dismissed", by="user:wang")
    assert store.gaps(GapQuery(status="dismissed")).total == 1 and store.gaps(GapQuery()).total == 5
    assert store.gaps(GapQuery(status=None)).total == 6


def test_the_messages_that_carried_an_answer_are_remembered(store):
    reply = ImReply("feishu", "om_reply1", 42, "oc_chat")
    store.remember_reply(reply)
    store.remember_reply(reply)  # a retried send
    assert store.reply("feishu", "om_reply1") == reply
    assert store.reply("dingtalk", "om_reply1") is None
