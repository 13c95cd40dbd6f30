"""Citation enforcement: made-up markers go, every sentence is checked against what it cites."""

from __future__ import annotations

from assistant.answer.citations import CitationChecker, overlap
from assistant.answer.sources import number_sources
from assistant.tools.base import ToolResult

ERP = ToolResult(
    tool="lookup_order", source_id="erp:order:20240521-8892", title="ERP 订单系统", section="查询于 10:22",
    facts="订单号：20240521-8892\n订单状态：已发货\n发票状态：未开具（已申请，待开具）", summary="发票还没有开具。",
)


def check(text, hits, tools=(), question=""):
    return CitationChecker(min_support=0.4).check(text, number_sources(hits, tools), question=question)


def test_markers_to_sources_that_were_not_given_are_removed(invoice_hits):
    checked = check("普票在顾客确认收货后24小时内自动开具[1][7]。发票可在订单详情中下载PDF格式文件[9]。", invoice_hits)
    assert "[7]" not in checked.text and "[9]" not in checked.text
    assert checked.removed_markers == [7, 9]
    assert any("removed marker [7]" in n for n in checked.notes())
    assert [c.n for c in checked.citations] == [1]


def test_cited_sources_are_renumbered_in_order_of_first_use(invoice_hits):
    checked = check("发票开具后可在订单详情中下载PDF或OFD格式文件[2]。普票在确认收货后24小时内自动开具[1]。", invoice_hits)
    assert checked.text == "发票开具后可在订单详情中下载PDF或OFD格式文件[1]。普票在确认收货后24小时内自动开具[2]。"
    assert [(c.n, c.chunk_id) for c in checked.citations] == [(1, "c-download"), (2, "c-time")]


def test_marker_variants_are_normalised(invoice_hits):
    checked = check("普票在确认收货后24小时内自动开具【1】。下载路径在订单详情的查看发票里[1, 2]。", invoice_hits)
    assert "【" not in checked.text and "[1][2]" in checked.text


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before(invoice_hits):
    checked = check("普票在顾客确认收货后24小时内自动开具。[1]", invoice_hits)
    assert checked.text == "普票在顾客确认收货后24小时内自动开具[1]。"
    assert checked.supported == 1


def test_a_sentence_its_source_does_not_support_is_flagged(invoice_hits):
    checked = check("普票在顾客确认收货后24小时内自动开具[1]。本店支持火星配送，全程包邮还送月饼[1]。", invoice_hits)
    assert [s.supported for s in checked.sentences] == [True, False]
    assert any("unsupported sentence" in n and "火星" in n for n in checked.notes())


def test_a_number_that_no_source_holds_is_flagged_even_with_overlapping_words(invoice_hits):
    checked = check("普票在顾客确认收货后48小时内自动开具[1]。", invoice_hits)
    assert checked.supported == 0 and "48" in checked.sentences[0].reason


def test_numbers_the_customer_gave_or_another_source_holds_are_fine(invoice_hits):
    checked = check("订单20240521-8892的发票状态是未开具[1]。", invoice_hits, [ERP], question="20240521-8892发票开了吗")
    assert checked.supported == 1 and checked.citations[0].doc_id == "erp:order:20240521-8892"


def test_quotes_are_verbatim_from_the_chunk_and_tool_results_quote_their_facts(invoice_hits):
    checked = check("订单发票未开具[1]。专票在资质审核通过且确认收货后3个工作日内开具[2]。", invoice_hits, [ERP])
    erp, sop = checked.citations
    assert erp.quote == ERP.facts and (erp.title, erp.section) == ("ERP 订单系统", "查询于 10:22")
    assert sop.quote in invoice_hits[0].chunk.text and sop.quote.startswith("专票")
    assert (sop.title, sop.version, sop.page) == ("电子发票开具管理规范", "V3.2", 1)


def test_short_uncited_pleasantries_are_not_claims(invoice_hits):
    checked = check("您好！普票在顾客确认收货后24小时内自动开具[1]。", invoice_hits)
    assert checked.flagged == [] and checked.supported == 1


def test_overlap_works_for_english_and_chinese():
    assert overlap("Refunds are issued within 3 days", "All refunds are issued within 3 business days.") == 1.0
    assert overlap("普票会自动开具", "普票在确认收货后自动开具") >= 0.6  # a paraphrase keeps most bigrams
    assert overlap("火星配送", "普票在确认收货后自动开具") == 0.0


def test_one_marker_covers_the_clauses_of_its_sentence(invoice_hits):
    checked = check("普票在顾客确认收货后24小时内自动开具；顾客未手动确认收货的，系统在发货后第10天自动确认收货[1]。", invoice_hits)
    assert len(checked.sentences) == 1 and checked.supported == 1 and checked.flagged == []


def test_an_english_answer_from_a_chinese_source_is_checked_on_its_numbers(invoice_hits):
    good = check("Ordinary e-invoices are issued within 24 hours after delivery is confirmed[1].", invoice_hits)
    wrong = check("Ordinary e-invoices are issued within 48 hours[1].", invoice_hits)
    vague = check("Invoices are issued automatically after you confirm receipt[1].", invoice_hits)
    assert good.supported == 1 and wrong.supported == 0 and vague.supported == 0
