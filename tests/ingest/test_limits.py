"""A document too big to embed in reasonable time is refused by name, before any embedding, and
nothing of it is written; documents of honest size (a 300-page SOP) still go in."""

from __future__ import annotations

import io
import zipfile

from ingest.job import MAX_DOCUMENT_CHARS, MAX_DOCUMENT_CHUNKS
from tests.conftest import DEMO_KB

PARAGRAPH = "<w:p><w:r><w:t>" + "退货须在签收后七天内申请，退款原路返回。" * 20 + "</w:t></w:r></w:p>"


def make_inflating_docx(path, xml_bytes: int = 9_500_000) -> None:
    """A DOCX of ~80 KB whose document.xml unpacks to ``xml_bytes`` (just under the zip-bomb guard)."""
    import docx

    template = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("售后服务规范")
    d.save(template)
    body = PARAGRAPH * (xml_bytes // len(PARAGRAPH.encode()))
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode()
                start = text.index("<w:body>") + len("<w:body>")
                data = (text[:start] + body + text[start:]).encode()
            out.writestr(item, data)


def sections(n: int, sentence: str = "退货须在签收后七天内申请，退款原路返回。") -> str:
    return "# 售后规范\n" + "".join(f"## 第{i}节\n{sentence * 3}\n" for i in range(n))


def test_a_small_docx_inflating_to_megabytes_of_text_is_refused_before_any_embedding(make_ingestor, embedder, fresh_services, tmp_path):
    path = tmp_path / "bomb.docx"
    make_inflating_docx(path)
    assert path.stat().st_size < 200_000
    result = make_ingestor().ingest_file(path, "kb1")
    assert result.status == "failed"
    assert result.error.startswith("bomb.docx: ")
    assert f"more than {MAX_DOCUMENT_CHARS:,} characters" in result.error
    assert "split the document" in result.error
    assert embedder.calls == 0, "nothing was embedded"
    assert fresh_services.catalog.get_document("bomb") is None
    assert fresh_services.catalog.count_chunks() == fresh_services.keyword.count() == 0
    assert fresh_services.catalog.leftovers() == []


def test_a_document_over_the_chunk_limit_is_refused_by_name_and_the_other_files_still_go_in(make_ingestor, embedder, fresh_services, tmp_path):
    big, small = tmp_path / "big.md", tmp_path / "small.md"
    big.write_text(sections(12), encoding="utf-8")
    small.write_text(sections(2), encoding="utf-8")
    results = make_ingestor(max_document_chunks=10).ingest_files([big, small], "kb1")
    assert [r.status for r in results] == ["failed", "added"]
    assert results[0].error == (
        "big.md: it makes 12 chunks, more than 10 chunks for one document; split the document into smaller files"
    )
    assert embedder.calls == results[1].chunks == 2, "only the small file was embedded"
    assert fresh_services.catalog.get_document("big") is None


def test_a_new_version_over_the_character_limit_leaves_the_old_version_live(make_ingestor, embedder, fresh_services, tmp_path):
    path = tmp_path / "refunds.md"
    path.write_text(sections(2), encoding="utf-8")
    ingestor = make_ingestor(max_document_chars=1000)
    assert ingestor.ingest_file(path, "kb1").status == "added"
    before = (fresh_services.catalog.count_chunks(), embedder.calls)
    path.write_text(sections(40), encoding="utf-8")
    result = ingestor.ingest_file(path, "kb1")
    assert result.status == "failed" and "more than 1,000 characters for one document" in result.error
    assert result.error.startswith("refunds.md: ")
    assert (fresh_services.catalog.count_chunks(), embedder.calls) == before
    assert fresh_services.keyword.count() == before[0]


def test_a_300_page_sop_and_every_demo_document_fit_the_default_limits(make_ingestor, fresh_services, tmp_path):
    page = "## {n}. Handling step {n}\n" + ("An agent confirms the order number, the refund channel and the amount "
                                           "before approving a refund, and records the reason in the ticket. ") * 22
    sop = tmp_path / "service-manual.md"
    sop.write_text("# Service manual\n" + "\n".join(page.format(n=n) for n in range(300)), encoding="utf-8")
    assert len(sop.read_text(encoding="utf-8")) > 600_000  # ~2,100 characters a page, dense English
    demo = sorted(p for p in DEMO_KB.rglob("*") if p.suffix in (".md", ".pdf", ".docx", ".csv"))
    results = make_ingestor().ingest_files([sop, *demo], "kb1")
    assert [r.error for r in results if r.status == "failed"] == []
    assert 1_000 < results[0].chunks < MAX_DOCUMENT_CHUNKS


def test_a_batch_of_large_files_is_switched_in_groups_not_held_in_memory_all_at_once(make_ingestor, fresh_services, tmp_path, monkeypatch):
    monkeypatch.setattr("ingest.job.COMMIT_CHUNKS", 3)
    paths = []
    for name in ("a", "b", "c"):
        paths.append(tmp_path / f"{name}.md")
        paths[-1].write_text(sections(4), encoding="utf-8")
    live_when_reported: list[list[str]] = []

    def on_result(result) -> None:
        live_when_reported.append(sorted(d.id for d, _ in fresh_services.catalog.list_documents("kb1")))

    results = make_ingestor().ingest_files(paths, "kb1", on_result=on_result)
    assert [r.status for r in results] == ["added"] * 3
    assert live_when_reported == [["a"], ["a", "b"], ["a", "b", "c"]], "each group went live before the next was read"
