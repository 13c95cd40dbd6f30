"""Which sentences answer: the one that speaks to what is asked, read on its own, said once."""

from __future__ import annotations

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.domain import Chunk, DocRef, Hit
from assistant.text.tokenize import Tokenizer

PARK = (
    "乍都节公园位于泰国的首都曼谷的乍都节县，是一处公众游园地。1975年由泰国国家铁路局捐献土地建筑成公园。"
    "它的面积约为0.304平方公里。整个细长的公园被一个人工湖泊占据，许多桥梁跨越湖泊连接两岸。"
)
STATUS_TABLE = (
    "订单状态 | 修改收货地址 | 取消订单 | 处理方式\n"
    "待付款 | 可以 | 可以 | 顾客自助操作，立即生效\n"
    "待发货 | 可以，限自助修改1次 | 可以 | 顾客自助操作，退款立即发起\n"
    "已出库及之后 | 不可在系统修改 | 不可取消 | 联系承运商改派，或签收后申请退货"
)


def hit(chunk_id: str, text: str, section: str, *, kind: str = "text", question: str | None = None,
        similarity: float = 0.7, doc_id: str = "sop") -> Hit:
    chunk = Chunk(id=chunk_id, doc_id=doc_id, kb="kb", ordinal=0, text=text, section=section, kind=kind, question=question)
    return Hit(chunk=chunk, score=0.03, scores={"vector": similarity}, doc=DocRef(title="规范"))


def answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(lambda terms: {t: 1.0 for t in terms}, Tokenizer())


def test_the_sentence_that_says_what_is_asked_wins_over_ones_that_only_name_the_subject():
    answer = answerer().answer("乍都节公园的面积有多大？", [hit("p", PARK, "乍都节公园")])
    assert "0.304平方公里" in answer.answer


def test_a_table_row_is_quoted_with_its_header_so_the_figures_can_be_read():
    answer = answerer().answer("待发货的订单能改收货地址吗", [hit("t", STATUS_TABLE, "订单状态 > 各状态可办理事项", kind="table")])
    assert "订单状态：待发货" in answer.answer and "修改收货地址：可以，限自助修改1次" in answer.answer
    quote = answer.citations[0].quote
    assert quote.startswith("订单状态 | 修改收货地址") and "待发货 | 可以，限自助修改1次" in quote
    assert quote in STATUS_TABLE, "the citation quotes the source verbatim"


def test_a_sentence_pointing_at_a_table_the_reader_cannot_see_gives_way_to_one_that_stands_alone():
    text = "超过上表时效仍未到账的，客服可查询退款流水号。退款到账时效为3至7个工作日，以银行处理为准。"
    answer = answerer().answer("退款到账时效是多久", [hit("r", text, "退款")])
    assert answer.answer.startswith("退款到账时效为3至7个工作日")
    assert "上表" not in answer.answer


def test_a_question_in_the_source_is_never_quoted_as_an_answer():
    faqish = "Q: 退款退到信用卡要多久？A: 信用卡退款3至15个工作日到账。Q: 支付宝付款的订单，退款多久到账？"
    answer = answerer().answer("退款退到信用卡要多久", [hit("f", faqish, "常见问题")])
    assert "3至15个工作日" in answer.answer and "Q:" not in answer.answer


def test_the_same_sentence_is_never_said_twice():
    rule = "退款发起后3至7个工作日原路退回。"
    hits = [
        hit("faq", rule, "常见问题", kind="faq", question="退款多久到账", doc_id="faq"),
        hit("sop", "退款发起后3至7个工作日原路退回。如遇节假日顺延。", "二、退款时效"),
    ]
    answer = answerer().answer("退款多久到账", hits)
    assert answer.answer.count("3至7个工作日") == 1


def test_a_clause_cut_at_a_semicolon_ends_as_a_sentence():
    text = "客服调班须提前3个工作日在排班系统提交申请，经组长审批后生效；紧急情况须当班前4小时电话报备。"
    answer = answerer().answer("客服调班要提前多久申请", [hit("r", text, "调班规则")])
    assert "提前3个工作日" in answer.answer and not answer.answer.rstrip().endswith("；")


def test_an_english_question_is_answered_from_the_chinese_sop_that_says_it(demo_services):
    answer = demo_services.pipeline("hybrid", rerank=False).ask("Can I change my delivery address after ordering?")
    assert not answer.refused
    assert any(c.doc_id == "order-change-cancel" for c in answer.citations), answer.citations
    assert "修改" in answer.answer and "地址" in answer.answer
