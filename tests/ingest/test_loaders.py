"""Every demo file type loads with its structure: headings, pages, tables, FAQ rows."""

from __future__ import annotations

import pytest

from assistant.errors import IngestError
from ingest.loaders import load_file
from tests.conftest import DEMO_KB


def test_pdf_keeps_page_numbers_and_numbered_headings():
    doc = load_file(DEMO_KB / "finance" / "e-invoice.pdf")
    assert "发票" in doc.title
    pages = {b.page for b in doc.blocks}
    assert pages >= {1, 2}
    assert any(b.headings for b in doc.blocks), "numbered SOP headings become the heading path"
    assert doc.version == "V3.2"
    assert doc.effective_date == "2026-03-01"


def test_docx_reads_heading_styles_and_keeps_tables_whole_as_rows():
    doc = load_file(DEMO_KB / "support" / "membership-points.docx")
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert tables, "the membership levels table is kept as a table"
    assert tables[0].table_header and " | " in tables[0].table_header
    headed = doc.blocks[1:]  # the version line before the first heading has no path
    assert headed and all(len(b.headings) >= 1 for b in headed)


def test_markdown_builds_heading_path_and_pipe_tables():
    doc = load_file(DEMO_KB / "support" / "order-change-cancel.md")
    assert doc.title.startswith("订单修改")
    assert any(b.kind == "table" for b in doc.blocks)
    assert any(len(b.headings) == 2 for b in doc.blocks), "## and ### make a two-level path"


def test_faq_csv_rows_become_question_answer_blocks():
    doc = load_file(DEMO_KB / "support" / "faq.csv")
    assert len(doc.blocks) >= 40
    assert all(b.kind == "faq" and b.question and b.text for b in doc.blocks)


def test_gbk_encoded_text_file_is_decoded(tmp_path):
    path = tmp_path / "notice.txt"
    path.write_bytes("退货须知\n\n商品签收后7天内可申请无理由退货。".encode("gbk"))
    doc = load_file(path)
    assert doc.title == "退货须知"
    assert [b.text for b in doc.blocks] == ["商品签收后7天内可申请无理由退货。"], "the title is not body text"


def test_faq_sheet_missing_the_answer_column_names_file_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("question,category\n怎么退货,退货\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.csv.*answer"):
        load_file(path)


def test_empty_file_is_rejected_by_name(tmp_path):
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.md: the file is empty"):
        load_file(path)


def test_file_whose_extension_lies_is_rejected(tmp_path):
    path = tmp_path / "fake.pdf"
    path.write_text("这不是 PDF", encoding="utf-8")
    with pytest.raises(IngestError, match=r"fake\.pdf: not a readable PDF"):
        load_file(path)
