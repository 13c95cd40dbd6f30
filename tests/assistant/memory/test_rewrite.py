"""Follow-up questions become standalone ones before retrieval (rules, no LLM)."""

from __future__ import annotations

import re

import pytest

from assistant.domain import Turn
from assistant.memory.rewrite import RuleRewriter
from assistant.text.cjk import has_cjk
from assistant.text.tokenize import Tokenizer


def user(text: str) -> Turn:
    return Turn("user", text)


def bot(text: str = "……") -> Turn:
    return Turn("assistant", text)


@pytest.fixture
def rewriter() -> RuleRewriter:
    return RuleRewriter(lambda terms: {t: 1.0 for t in terms}, Tokenizer())


def test_topic_switch_asks_the_previous_question_about_a_thing_of_the_same_kind(rewriter):
    result = rewriter.rewrite("那专票呢？", [user("确认收货后多久能开出电子发票？"), bot()])
    assert result.query == "确认收货后多久能开出电子专票？"
    assert "发票 -> 专票" in result.reason


def test_bare_x_ne_switches_too(rewriter):
    assert rewriter.rewrite("银卡呢", [user("金卡会员有什么权益"), bot()]).query == "银卡会员有什么权益"


def test_a_compound_topic_is_switched_whole(rewriter):
    assert rewriter.rewrite("信用卡分期呢", [user("花呗分期要满多少钱"), bot()]).query == "信用卡分期要满多少钱"


def test_an_action_is_asked_about_in_general_when_the_previous_predicate_does_not_fit_it(rewriter):
    how = rewriter.rewrite("那退款呢？", [user("电子发票怎么开？"), bot()])
    assert how.query == "退款怎么办理？", "退款怎么开 is not a thing"
    assert "does not fit" in how.reason
    when = rewriter.rewrite("那退款呢？", [user("确认收货后多久能开出电子发票？"), bot()])
    assert when.query == "退款一般多久？", "neither the invoice's condition nor its verb is inherited"


def test_an_action_after_an_action_keeps_the_question(rewriter):
    assert rewriter.rewrite("那换货呢", [user("退货怎么申请？"), bot()]).query == "换货怎么申请？"


def test_a_conditional_follow_up_adds_its_condition_to_the_previous_question(rewriter):
    history = [user("地址填错了 我已经自己改成广州海珠区了"), bot()]
    result = rewriter.rewrite("要是还想再改一次呢", history)
    assert result.query == "地址填错了 我已经自己改成广州海珠区了，要是还想再改一次呢"


def test_a_conditional_follow_up_goes_on_with_the_order_of_its_case(rewriter):
    history = [user("订单20240501-0420 付了款还没发货"), bot(), user("地址填错了 我已经自己改成广州海珠区了"), bot()]
    result = rewriter.rewrite("要是还想再改一次呢", history)
    assert result.query == "地址填错了 我已经自己改成广州海珠区了，要是还想再改一次呢（订单号 20240501-0420）"


def test_borrowed_topic_words_never_make_a_question_about_an_order(rewriter):
    history = [user("订单20240521-8892到哪了"), bot(), user("SF1402337788115 还在上海"), bot()]
    result = rewriter.rewrite("By the way, how long does shipping to Singapore take?", history)
    assert not result.changed


def test_a_statement_continues_the_situation_of_the_turn_before_it(rewriter):
    history = [user("寄到西藏的东西"), bot(), user("是个三人沙发"), bot()]
    result = rewriter.rewrite("几天能到啊", history)
    assert result.query.startswith("西藏") and "三人沙发" in result.query


def test_elliptical_question_borrows_the_previous_topic(rewriter):
    result = rewriter.rewrite("那要多久？", [user("退货怎么申请？"), bot()])
    assert result.query.startswith("退货") and result.query.endswith("那要多久？")


def test_pronoun_borrows_the_previous_topic_in_english(rewriter):
    result = rewriter.rewrite("How long does it take?", [user("Can I return a laptop?"), bot()])
    assert result.query == "About return, laptop: How long does it take?"


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


# -- order numbers among other ids ---------------------------------------------------------------
def test_a_tracking_number_is_not_taken_for_the_order_number(rewriter):
    history = [user("我的订单20240521-8892到哪了"), bot("订单20240521-8892物流状态：运输中，顺丰速运 SF1402337788115"),
               user("快递单号是SF1402337788115吧 怎么一直在转运中心"), bot()]
    result = rewriter.rewrite("这个订单还能取消吗", history)
    assert result.query == "这个订单还能取消吗（订单号 20240521-8892）"


@pytest.mark.parametrize("earlier", [
    "我手机号13812345678 帮我查下订单",
    "发票号码202405218892开错了",
    "JDV009912345678那个已经签收了",
    "运单号是ZT7788990011",
])
def test_phone_invoice_and_tracking_numbers_are_never_carried_as_an_order(rewriter, earlier):
    result = rewriter.rewrite("这个订单能退吗", [user(earlier), bot()])
    assert result.query == "这个订单能退吗" and not result.changed


def test_two_orders_named_together_are_not_guessed_between(rewriter):
    history = [user("我有两个订单 20240518-3310 和 20240521-8892"), bot(), user("JDV009912345678那个已经签收了"), bot()]
    result = rewriter.rewrite("签收的那单发票能改成个人抬头吗", history)
    assert result.query == "签收的那单发票能改成个人抬头吗"
    assert "several order numbers" in result.reason


def test_an_order_question_with_a_pronoun_gets_the_order_and_nothing_else(rewriter):
    history = [user("SF1402337788115这个快递到哪了"), bot(), user("订单号是20240521-8892"), bot()]
    result = rewriter.rewrite("那它的发票啥时候能开", history)
    assert result.query == "那它的发票啥时候能开（订单号 20240521-8892）"


def test_an_order_intent_without_a_subject_is_about_the_order_said_earlier(rewriter):
    history = [user("我的订单20240501-0420还没发货"), bot()]
    assert rewriter.rewrite("能改地址吗", history).query == "能改地址吗（订单号 20240501-0420）"
    unrelated = rewriter.rewrite("顺便问下 钻石会员要多少成长值", history)
    assert not unrelated.changed, "a question with a subject of its own is not about the order"


def test_rewriter_and_router_share_one_definition_of_an_order_number():
    from assistant.memory import rewrite
    from assistant.tools import identifiers, routing

    assert rewrite.order_numbers is routing.order_numbers is identifiers.order_numbers


# -- English ---------------------------------------------------------------------------------------
def test_english_what_about_a_name_swaps_the_name(rewriter):
    result = rewriter.rewrite("What about Canada?", [user("How long does shipping to Japan take?"), bot()])
    assert result.query == "How long does shipping to Canada take?"


def test_english_and_for_a_noun_with_the_same_head_swaps_it(rewriter):
    result = rewriter.rewrite("and for express shipping?", [user("How long does shipping to Japan take?"), bot()])
    assert result.query == "How long does express shipping to Japan take?"


@pytest.mark.parametrize("previous, question, standalone", [
    ("Can I return a phone I already activated?", "what if it's defective?",
     "Can I return a phone I already activated if it's defective?"),
    ("How long does a refund to WeChat Pay take?", "and if it goes back to my bank card instead?",
     "How long does a refund to WeChat Pay take if it goes back to my bank card instead?"),
])
def test_english_conditional_follow_ups_add_their_condition_to_the_previous_question(
    rewriter, previous, question, standalone
):
    assert rewriter.rewrite(question, [user(previous), bot()]).query == standalone


@pytest.mark.parametrize("previous, question", [
    ("How long is the warranty on a phone?", "what about the battery?"),
    ("Can I change my delivery address after paying?", "How long does it take?"),
    ("What are your online customer service hours?", "and the phone line?"),
    ("How do I return an international order?", "what about the refund?"),
])
def test_english_follow_ups_without_a_safe_swap_are_left_as_asked_behind_the_previous_topic(
    rewriter, previous, question
):
    query = rewriter.rewrite(question, [user(previous), bot()]).query
    assert query.startswith("About ") and query.endswith(question[:1].upper() + question[1:])
    assert not re.search(r"\b(the|an?) (the|an?)\b", query), query  # no "return an the refund order"
    assert not has_cjk(query), "what the rewriter adds is in the asker's language"


def test_an_english_order_follow_up_gets_the_number_in_english(rewriter):
    result = rewriter.rewrite("Can I still cancel this order?", [user("Where is my order 20240521-8892?"), bot()])
    assert result.query == "Can I still cancel this order? (order 20240521-8892)"
