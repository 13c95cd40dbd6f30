"""Follow-up questions become standalone ones before retrieval (rules, no LLM)."""

from __future__ import annotations

import pytest

from assistant.domain import Turn
from assistant.memory.rewrite import RuleRewriter
from assistant.text.tokenize import Tokenizer


def user(text: str) -> Turn:
    return Turn("user", text)


def bot(text: str = "……") -> Turn:
    return Turn("assistant", text)


@pytest.fixture
def rewriter() -> RuleRewriter:
    return RuleRewriter(lambda terms: {t: 1.0 for t in terms}, Tokenizer())


def test_topic_switch_swaps_the_subject_of_the_previous_question(rewriter):
    result = rewriter.rewrite("那退款呢？", [user("发票怎么开？"), bot()])
    assert result.query == "退款怎么开？"
    assert "发票 -> 退款" in result.reason


def test_bare_x_ne_switches_too(rewriter):
    assert rewriter.rewrite("银卡呢", [user("金卡会员有什么权益"), bot()]).query == "银卡有什么权益"


def test_a_compound_topic_is_switched_whole(rewriter):
    assert rewriter.rewrite("那退款呢？", [user("电子发票怎么开？"), bot()]).query == "退款怎么开？"


def test_elliptical_question_borrows_the_previous_topic(rewriter):
    result = rewriter.rewrite("那要多久？", [user("退货怎么申请？"), bot()])
    assert result.query.startswith("退货") and result.query.endswith("那要多久？")


def test_pronoun_borrows_the_previous_topic_in_english(rewriter):
    result = rewriter.rewrite("How long does it take?", [user("Can I return a laptop?"), bot()])
    assert "return" in result.query and "laptop" in result.query


def test_order_number_from_two_turns_ago_is_carried_over(rewriter):
    history = [user("我的订单20240521-8892还没发货"), bot(), user("能改地址吗"), bot()]
    result = rewriter.rewrite("那这个订单还能取消吗", history)
    assert "20240521-8892" in result.query
    assert "地址" not in result.query, "the order names the subject; nothing else is borrowed"


def test_a_new_standalone_question_is_left_alone(rewriter):
    for question in ("会员积分什么时候过期？", "专票怎么申请", "What is the warranty for a TV?"):
        result = rewriter.rewrite(question, [user("退货运费谁出"), bot()])
        assert result.query == question and not result.changed


def test_first_question_of_a_conversation_is_unchanged(rewriter):
    assert not rewriter.rewrite("那退款呢？", []).changed
