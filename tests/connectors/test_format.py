"""How answers read in chat: answer, numbered sources with links, limits, mentions, refusals."""

from __future__ import annotations

from assistant.domain import Citation
from connectors import format as fmt
from connectors.base import (
    CallbackRequest,
    CallbackResult,
    Channel,
    IncomingMessage,
    OutgoingMessage,
)


class FakeChannel(Channel):
    platform = "fake"
    bot = "default"

    def __init__(self, max_reply: int = 4000, in_bytes: bool = False, max_parts: int = 3):
        self.max_reply, self.reply_limit_in_bytes, self.max_parts = max_reply, in_bytes, max_parts

    def verify(self, request: CallbackRequest) -> None: ...

    def parse(self, request: CallbackRequest) -> CallbackResult: ...

    def send(self, message: OutgoingMessage) -> None: ...


def asked(text: str = "电子发票怎么开？", group: bool = False) -> IncomingMessage:
    return IncomingMessage("fake", "default", "m1", "chat1", "group" if group else "p2p", "u1", text, mentioned=True)


def test_answer_comes_first_then_numbered_sources_with_section_page_and_link(make_answer, citation):
    [reply] = fmt.render(make_answer("q", "确认收货后48小时内开具 [1]。", [citation]), asked(), FakeChannel())
    assert reply.markdown == (
        "确认收货后48小时内开具 [1]。\n\n"
        "**来源**\n"
        "[1] [电子发票开具规范](https://kb.example.com/e-invoice) · 一、开票时间 · 第 2 页"
    )


def test_sources_without_url_have_no_link_and_english_questions_get_english_labels(make_answer, citation):
    citation = citation.model_copy(update={"url": None, "title": "Returns policy", "section": "A > B > C", "page": 3})
    [reply] = fmt.render(make_answer("q", "Within 30 days [1].", [citation]), asked("How long to return?"), FakeChannel())
    assert reply.markdown.endswith("**Sources**\n[1] Returns policy · B > C · p. 3")
    assert "](" not in reply.markdown


def test_refusal_reads_as_a_helpful_sentence_in_the_askers_language(make_answer):
    [zh] = fmt.render(make_answer("q", "", refused=True), asked("你们的股票代码是多少"), FakeChannel())
    [en] = fmt.render(make_answer("q", "", refused=True), asked("What is your stock ticker?"), FakeChannel())
    assert "没有找到" in zh.markdown and "人工客服" in zh.markdown and "**" not in zh.markdown
    assert en.markdown.startswith("Sorry, I could not find")


def test_group_replies_mention_the_asker_on_the_first_part_only(make_answer, citation):
    long = "\n\n".join(f"第{i}段：" + "内容" * 40 for i in range(6))
    replies = fmt.render(make_answer("q", long, [citation]), asked(group=True), FakeChannel(max_reply=300))
    assert [r.mention for r in replies] == [True] + [False] * (len(replies) - 1)
    assert not fmt.render(make_answer("q", "短答 [1]", [citation]), asked(), FakeChannel())[0].mention


def test_long_answers_split_at_paragraphs_within_the_limit_and_keep_sources_whole(make_answer, citation):
    paragraphs = [f"第{i}段：" + "这是一段比较长的说明文字。" * 8 for i in range(4)]
    answer = make_answer("q", "\n\n".join(paragraphs), [citation])
    replies = fmt.render(answer, asked(), FakeChannel(max_reply=260, max_parts=10))
    assert len(replies) > 1 and all(len(r.markdown) <= 260 for r in replies)
    assert [(r.part, r.parts) for r in replies] == [(i + 1, len(replies)) for i in range(len(replies))]
    assert "**来源**\n[1]" in replies[-1].markdown
    assert "".join(r.markdown for r in replies).count("第") >= 4


def test_limits_in_bytes_count_utf8_and_overflow_is_truncated_with_a_marker(make_answer, citation):
    answer = make_answer("q", "很长的答案。" * 2000, [citation])
    [reply] = fmt.render(answer, asked(), FakeChannel(max_reply=2048, in_bytes=True, max_parts=1))
    assert len(reply.markdown.encode()) <= 2048
    assert reply.markdown.endswith("…（内容较长，已截断）")


def test_many_citations_are_listed_in_order(make_answer):
    cites = [Citation(n=n, doc_id=f"d{n}", chunk_id=f"c{n}", title=f"T{n}", quote="q") for n in (2, 1, 3)]
    [reply] = fmt.render(make_answer("q", "A [1][2][3]", cites), asked("Q?"), FakeChannel())
    assert reply.markdown.splitlines()[-3:] == ["[1] T1", "[2] T2", "[3] T3"]


def test_notices_are_polite_and_in_the_askers_language():
    assert "稍等" in fmt.notice(fmt.RATE_LIMITED_USER, asked(), FakeChannel()).markdown
    assert "wait a minute" in fmt.notice(fmt.RATE_LIMITED_GROUP, asked("help?", group=True), FakeChannel()).markdown
    assert fmt.notice(fmt.FAILED, asked(group=True), FakeChannel()).mention


def test_a_curated_entry_is_cited_as_curated_with_its_author():
    entry = Citation(n=1, doc_id="curated-1", chunk_id="c1", title="发票抬头开错了可以重开吗？",
                     section="发票抬头开错了可以重开吗？", quote="可以。", curated_by="王会计")
    assert fmt.sources_block([entry], "zh") == "**来源**\n[1] 发票抬头开错了可以重开吗？ · 人工整理 · 王会计"
    assert fmt.sources_block([entry], "en").endswith("· curated by 王会计")
