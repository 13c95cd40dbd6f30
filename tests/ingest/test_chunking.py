from __future__ import annotations

from ingest.chunking import chunk_document
from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.markdown import parse_markdown

SOP = """# 退货规范
版本：V1.0
## 一、退货条件
商品签收后7天内可申请无理由退货。商品须保持完好。定制商品不支持无理由退货。
## 二、退款时效
| 支付方式 | 到账时间 |
|---|---|
| 支付宝 | 1-3个工作日 |
| 微信 | 1-3个工作日 |
| 银行卡 | 3-7个工作日 |
"""


def test_each_chunk_carries_its_heading_path():
    chunks = chunk_document("d1", "kb1", parse_markdown(SOP, "x"))
    sections = {c.section for c in chunks}
    assert "一、退货条件" in sections and "二、退款时效" in sections


def test_tables_are_split_between_rows_and_repeat_their_header():
    doc = parse_markdown(SOP, "x")
    chunks = [c for c in chunk_document("d1", "kb1", doc, size=30, overlap=0) if c.kind == "table"]
    assert len(chunks) >= 2
    for c in chunks:
        lines = c.text.splitlines()
        assert lines[0] == "支付方式 | 到账时间"
        assert all(line.count("|") == 1 for line in lines), "no row is cut in half"


def test_long_text_is_cut_at_sentence_boundaries_with_overlap():
    text = "".join(f"第{i}条规则说明到此为止。" for i in range(40))
    doc = LoadedDocument(title="t", blocks=[Block("text", text, ["规则"])])
    chunks = chunk_document("d1", "kb1", doc, size=100, overlap=30)
    assert len(chunks) > 3
    assert all(c.text.endswith("。") for c in chunks)
    opening = chunks[1].text.split("。")[0] + "。"
    assert opening in chunks[0].text, "the next chunk starts by repeating the end of the previous one"


def test_chunk_ids_are_stable_across_reingestion_of_unchanged_text():
    a = chunk_document("d1", "kb1", parse_markdown(SOP, "x"))
    b = chunk_document("d1", "kb1", parse_markdown(SOP.replace("定制商品", "定制类商品"), "x"))
    c = chunk_document("d1", "kb1", parse_markdown(SOP, "x"))
    assert [x.id for x in a] == [x.id for x in c]
    changed = {x.id for x in a} ^ {x.id for x in b}
    assert len(changed) == 2, "only the edited chunk gets a new id"


def test_faq_pairs_keep_the_question_searchable_on_its_own():
    doc = LoadedDocument(title="faq", blocks=[Block("faq", "7天内可退。", [], question="多久内能退货？")])
    (chunk,) = chunk_document("faq", "kb1", doc)
    assert chunk.kind == "faq" and chunk.question == "多久内能退货？" and chunk.text == "7天内可退。"
