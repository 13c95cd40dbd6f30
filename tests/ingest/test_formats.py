"""Loaders on real files made here: a two-page PDF with a table, DOCX, XLSX, HTML, JSON FAQ."""

from __future__ import annotations

import json

import pytest

from assistant.errors import IngestError
from ingest.chunking import chunk_document
from ingest.loaders import load_file


def make_pdf(path, pages: list[list[str]], password: str | None = None) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(60, y, line)
            y -= 18
        c.showPage()
    c.save()
    if password:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(user_password=password, owner_password=password)
        with open(path, "wb") as f:
            writer.write(f)


def test_pdf_with_a_table_over_two_pages_keeps_pages_headings_and_rows(tmp_path):
    path = tmp_path / "shipping.pdf"
    make_pdf(path, [
        ["Shipping Policy", "Version: V1.2", "1. Delivery times", "Orders ship within 48 hours of payment.",
         "Region | Days | Fee", "Mainland | 2-4 | free", "Remote areas | 5-9 | 15 CNY"],
        ["2. Lost parcels", "A parcel with no tracking update for 7 days is treated as lost."],
    ])
    doc = load_file(path)
    assert doc.title == "Shipping Policy" and doc.version == "V1.2"
    by_page = {b.page: b for b in doc.blocks}
    assert set(by_page) == {1, 2}
    assert by_page[2].headings == ["2. Lost parcels"]
    chunks = chunk_document("ship", "kb1", doc)
    assert any("Remote areas | 5-9 | 15 CNY" in c.text and c.page == 1 for c in chunks)


def test_encrypted_pdf_is_reported_not_half_read(tmp_path):
    path = tmp_path / "secret.pdf"
    make_pdf(path, [["Internal pricing"]], password="s3cret")
    with pytest.raises(IngestError, match=r"secret\.pdf: the PDF is encrypted"):
        load_file(path)


def test_scanned_page_without_text_is_reported_as_a_warning(tmp_path):
    path = tmp_path / "scan.pdf"
    make_pdf(path, [["Returns", "1. Window", "Returns are accepted within 7 days."], []])
    doc = load_file(path)
    assert any("page 2 has no extractable text" in w for w in doc.warnings)


def test_docx_made_here_keeps_heading_levels_table_and_list(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("会员规则", level=0)
    d.add_heading("一、等级", level=1)
    d.add_heading("1.1 成长值", level=2)
    d.add_paragraph("每实付1元获得1点成长值。")
    d.add_paragraph("银卡：1000点", style="List Bullet")
    table = d.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("等级", "折扣"), ("银卡", "98折"), ("金卡", "95折")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    path = tmp_path / "member.docx"
    d.save(str(path))
    doc = load_file(path)
    assert doc.title == "会员规则"
    text = [b for b in doc.blocks if b.kind == "text"][0]
    assert text.headings == ["一、等级", "1.1 成长值"] and "- 银卡：1000点" in text.text
    tbl = [b for b in doc.blocks if b.kind == "table"][0]
    assert tbl.table_header == "等级 | 折扣" and tbl.text == "银卡 | 98折\n金卡 | 95折"


def test_xlsx_faq_rows_become_searchable_questions(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["问题", "答案", "分类"])
    ws.append(["多久能退款？", "审核通过后1-3个工作日到账。", "退款"])
    ws.append(["", "", ""])
    ws.append(["能开专票吗？", "一般纳税人单位可以申请。", "发票"])
    path = tmp_path / "faq.xlsx"
    wb.save(str(path))
    doc = load_file(path)
    assert [(b.question, b.headings) for b in doc.blocks] == [("多久能退款？", ["退款"]), ("能开专票吗？", ["发票"])]


def test_json_faq_and_its_errors(tmp_path):
    good = tmp_path / "faq.json"
    good.write_text(json.dumps({"faqs": [{"question": "运费谁出？", "answer": "质量问题由商城承担。"}]}, ensure_ascii=False), encoding="utf-8")
    assert load_file(good).blocks[0].question == "运费谁出？"
    bad = tmp_path / "broken.json"
    bad.write_text('[{"question": "x",', encoding="utf-8")
    with pytest.raises(IngestError, match=r"broken\.json: not valid JSON"):
        load_file(bad)


def test_html_page_keeps_headings_lists_and_tables_and_drops_scripts(tmp_path):
    path = tmp_path / "help.html"
    path.write_text(
        "<html><head><title>帮助中心</title><script>var x='secret';</script></head><body>"
        "<h1>物流说明</h1><h2>配送时效</h2><p>江浙沪次日达。</p><ul><li>偏远地区5-9天</li></ul>"
        "<table><tr><th>地区</th><th>时效</th></tr><tr><td>新疆</td><td>7天</td></tr></table></body></html>",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.title == "帮助中心"
    assert all("secret" not in b.text for b in doc.blocks)
    assert doc.blocks[0].headings == ["物流说明", "配送时效"] and "偏远地区5-9天" in doc.blocks[0].text
    assert doc.blocks[1].table_header == "地区 | 时效" and doc.blocks[1].text == "新疆 | 7天"


def test_docx_zip_bomb_is_refused_before_unpacking(tmp_path):
    import zipfile

    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (210 * 1024 * 1024))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(IngestError, match=r"bomb\.docx: DOCX would unpack to"):
        load_file(path)
