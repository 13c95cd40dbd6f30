"""Scans and pictures are read by OCR (the real PP-OCRv4 models inside rapidocr-onnxruntime) and become
answerable documents: a scanned PDF with its pages cited, a PNG upload, a picture inside a DOCX."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest

from ingest.loaders import load_file
from ingest.ocr import shared_engine
from tests.ingest.scans import page_image, png_bytes, scanned_pdf

ROTA_SOP = [
    [
        "客服排班管理规范",
        "版本：V2.0",
        "一、适用范围",
        "本规范适用于商城全体在线客服人员，包括全职与兼职客服。",
        "二、调班规则",
        "客服调班须提前3个工作日在排班系统提交申请，",
        "经班组长审批同意后方可生效。",
    ],
    [
        "三、请假规定",
        "病假须在当班开始前2小时向班组长报备，",
        "并在返岗后3日内补交医院证明。",
        "四、夜班补贴",
        "夜班（22:00至次日6:00）每班补贴80元，随当月工资发放。",
    ],
]


def test_a_scanned_two_page_sop_is_answerable_with_the_right_page_cited(fresh_services, tmp_path):
    path = scanned_pdf(tmp_path / "rota-scan.pdf", ROTA_SOP)
    result = fresh_services.ingestor().ingest_file(path, "kb1")
    assert result.status == "added", result.error
    assert any("pages 1, 2 had no text layer and were read by OCR (mean confidence" in w for w in result.warnings)
    pipeline = fresh_services.pipeline("hybrid", rerank=False)

    rota = pipeline.ask("客服调班要提前多久申请？", kb_ids=["kb1"])
    assert not rota.refused and "3个工作日" in rota.answer
    assert rota.citations[0].page == 1 and rota.citations[0].section == "二、调班规则"
    assert rota.citations[0].title == "客服排班管理规范"

    night = pipeline.ask("夜班补贴多少钱？", kb_ids=["kb1"])
    assert not night.refused and "80元" in night.answer
    assert night.citations[0].page == 2 and night.citations[0].section == "四、夜班补贴"


def test_ocr_confidence_is_kept_on_ocr_chunks_only(fresh_services, tmp_path):
    scan = fresh_services.ingestor().ingest_file(scanned_pdf(tmp_path / "scan.pdf", ROTA_SOP), "kb1")
    typed = tmp_path / "typed.md"
    typed.write_text("# 排班\n## 调班\n调班须提前3个工作日申请。\n", encoding="utf-8")
    text = fresh_services.ingestor().ingest_file(typed, "kb1")
    scanned_chunks = fresh_services.catalog.chunks_of(scan.doc_id)
    assert scanned_chunks and all(0.9 < c.ocr_confidence <= 1.0 for c in scanned_chunks)
    assert [c.ocr_confidence for c in fresh_services.catalog.chunks_of(text.doc_id)] == [None]


def test_a_png_upload_is_answerable(fresh_services, tmp_path):
    path = tmp_path / "退款时效.png"
    path.write_bytes(png_bytes(["退款时效说明", "退款审核通过后，款项在3至7个工作日内原路退回。"]))
    result = fresh_services.ingestor().ingest_file(path, "kb1")
    assert result.status == "added", result.error
    assert any("the picture was read by OCR" in w for w in result.warnings)
    answer = fresh_services.pipeline("hybrid", rerank=False).ask("退款多久能到账？", kb_ids=["kb1"])
    assert not answer.refused and "3至7个工作日" in answer.answer
    assert answer.citations[0].title == "退款时效说明" and answer.citations[0].page is None


def test_a_picture_in_a_docx_is_read_where_it_stands(fresh_services, tmp_path):
    import docx
    from docx.shared import Cm

    document = docx.Document()
    document.add_heading("会员积分规则", level=0)
    document.add_heading("一、积分获取", level=1)
    document.add_paragraph("每消费1元累计1积分。")
    document.add_heading("二、积分兑换", level=1)
    document.add_picture(io.BytesIO(png_bytes(["积分兑换比例为100积分抵扣1元，", "单笔订单最多抵扣订单金额的50%。"])), width=Cm(12))
    document.add_heading("三、积分有效期", level=1)
    document.add_paragraph("积分自获得之日起12个月内有效。")
    path = tmp_path / "points.docx"
    document.save(path)

    loaded = load_file(path)
    pictured = [b for b in loaded.blocks if b.ocr_confidence is not None]
    assert len(pictured) == 1 and pictured[0].headings == ["二、积分兑换"]
    assert "100积分抵扣1元，单笔订单最多抵扣订单金额的50%。" in pictured[0].text, "wrapped lines are glued"
    assert any("1 picture was read by OCR" in w for w in loaded.warnings)

    fresh_services.ingestor().ingest_file(path, "kb1")
    answer = fresh_services.pipeline("hybrid", rerank=False).ask("多少积分可以抵扣1元？", kb_ids=["kb1"])
    assert not answer.refused and "100积分" in answer.answer
    assert answer.citations[0].section == "二、积分兑换"


def test_a_scanned_page_with_nothing_on_it_is_reported(tmp_path):
    path = scanned_pdf(tmp_path / "half-blank.pdf", [ROTA_SOP[0], []])
    loaded = load_file(path)
    assert {b.page for b in loaded.blocks} == {1}
    assert "page 2 has no extractable text and OCR found none; it was skipped" in loaded.warnings


def test_a_picture_without_text_is_refused_by_name(tmp_path):
    path = tmp_path / "blank.jpg"
    page_image([], size=(300, 200)).save(path, format="JPEG")
    with pytest.raises(Exception, match=r"blank\.jpg: OCR found no text in the picture"):
        load_file(path)


def test_a_picture_scanned_upside_down_is_read_turned_round(tmp_path):
    path = tmp_path / "upside-down.png"
    page_image(["退款时效说明", "退款审核通过后3至7个工作日内原路退回。"], size=(900, 300)).rotate(180).save(path)
    loaded = load_file(path)
    assert loaded.title == "退款时效说明" and loaded.blocks[0].text == "退款审核通过后3至7个工作日内原路退回。"


def test_lines_come_in_reading_order_with_chinese_joined_without_spaces():
    image = page_image(["一、总则", "本规范适用于 全部门店。", "Refunds are returned within 7 days."], size=(1200, 400))
    lines = shared_engine().read(image)
    assert [line.text for line in lines] == ["一、总则", "本规范适用于全部门店。", "Refunds are returned within 7 days."]
    assert all(0.9 < line.confidence <= 1.0 for line in lines)


def test_threads_share_one_engine_and_read_the_same(tmp_path):
    image = page_image(["夜班每班补贴80元。"], size=(700, 200))
    results: list[list[str]] = []

    def read() -> None:
        results.append([line.text for line in shared_engine().read(image)])

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [["夜班每班补贴80元。"]] * 3


def test_the_ocr_model_is_loaded_only_when_a_file_needs_it(tmp_path):
    typed = tmp_path / "typed.pdf"
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(typed))
    pdf.drawString(60, 800, "Shipping Policy: orders ship within 48 hours of payment.")
    pdf.save()
    code = (
        "import sys; from ingest.loaders import load_file; from ingest.ocr import shared_engine\n"
        f"load_file({str(typed)!r}); assert not shared_engine().loaded\n"
        "assert 'rapidocr_onnxruntime' not in sys.modules and 'onnxruntime' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
