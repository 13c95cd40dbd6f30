"""Re-ingesting replaces a document in both indexes; unchanged files are skipped; deletes are total."""

from __future__ import annotations

from assistant.services import make_ingestor
from ingest.job import DocumentMeta

V1 = "# 开票规范\n版本：V3.1\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
V2 = "# 开票规范\n版本：V3.2\n## 开票时间\n确认收货后24小时内开具电子发票。\n"


def _ask(services, q):
    return services.pipeline("hybrid", rerank=False).ask(q, kb_ids=["kb1"])


def test_reupload_replaces_old_version_chunks(fresh_services, tmp_path):
    ingestor = make_ingestor(fresh_services)
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    assert ingestor.ingest_file(path, "kb1").status == "added"
    assert "48小时" in _ask(fresh_services, "发票多久开具").answer

    path.write_text(V2, encoding="utf-8")
    result = ingestor.ingest_file(path, "kb1")
    assert result.status == "replaced"
    answer = _ask(fresh_services, "发票多久开具")
    assert "24小时" in answer.answer and "48小时" not in answer.answer
    assert answer.citations[0].version == "V3.2"
    # The old chunk is gone from both indexes, not just hidden.
    assert fresh_services.keyword.count() == fresh_services.catalog.count_chunks()
    assert fresh_services.vector.count("kb1") == fresh_services.catalog.count_chunks()


def test_unchanged_file_is_skipped(fresh_services, tmp_path):
    ingestor = make_ingestor(fresh_services)
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1")
    assert ingestor.ingest_file(path, "kb1").status == "unchanged"


def test_deleted_document_is_gone_from_every_index(fresh_services, tmp_path):
    ingestor = make_ingestor(fresh_services)
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    doc_id = ingestor.ingest_file(path, "kb1", DocumentMeta(id="inv")).doc_id
    assert ingestor.delete_document(doc_id)
    assert fresh_services.keyword.count() == 0
    assert fresh_services.vector.count("kb1") == 0
    assert _ask(fresh_services, "发票多久开具").refused


def test_failed_file_leaves_the_index_as_it_was(fresh_services, tmp_path):
    ingestor = make_ingestor(fresh_services)
    good = tmp_path / "invoice.md"
    good.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(good, "kb1")
    before = fresh_services.catalog.count_chunks()
    broken = tmp_path / "invoice.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")
    result = ingestor.ingest_file(broken, "kb1")
    assert result.status == "failed" and "invoice.pdf" in result.error
    assert fresh_services.catalog.count_chunks() == before == fresh_services.keyword.count()


def test_changing_keyword_analysis_rebuilds_the_index_from_the_catalog(tmp_path):
    from assistant.config import Settings
    from assistant.services import Services

    data = tmp_path / "data"
    first = Services(Settings(data_dir=data, keyword_bigrams=False))
    first.lock.acquire()
    first.catalog.create_kb("kb1")
    path = tmp_path / "invoice.md"
    path.write_text(V2, encoding="utf-8")
    make_ingestor(first).ingest_file(path, "kb1")
    assert first.keyword.search(["#开具"], ["kb1"], 5) == [], "no character pairs without the setting"
    first.close()

    second = Services(Settings(data_dir=data, keyword_bigrams=True))
    second.lock.acquire()
    try:
        assert second.keyword.count() == second.catalog.count_chunks()
        assert second.keyword.search(["#开具"], ["kb1"], 5), "rebuilt with character pairs"
    finally:
        second.close()
