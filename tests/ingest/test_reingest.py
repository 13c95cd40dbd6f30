"""Re-ingesting replaces a document in both indexes; unchanged files are skipped; deletes are total."""

from __future__ import annotations

import pytest

from assistant.app.container import Services
from assistant.domain import DocumentMeta
from tests.conftest import make_settings

V1 = "# 开票规范\n版本：V3.1\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
V2 = "# 开票规范\n版本：V3.2\n## 开票时间\n确认收货后24小时内开具电子发票。\n"


def _ask(services, q):
    return services.pipeline("hybrid", rerank=False).ask(q, kb_ids=["kb1"])


def test_reupload_replaces_old_version_chunks(fresh_services, tmp_path):
    ingestor = fresh_services.ingestor()
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
    ingestor = fresh_services.ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1")
    assert ingestor.ingest_file(path, "kb1").status == "unchanged"


def test_deleted_document_is_gone_from_every_index(fresh_services, tmp_path):
    ingestor = fresh_services.ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    doc_id = ingestor.ingest_file(path, "kb1", DocumentMeta(id="inv")).doc_id
    assert ingestor.delete_document(doc_id)
    assert fresh_services.keyword.count() == 0
    assert fresh_services.vector.count("kb1") == 0
    assert _ask(fresh_services, "发票多久开具").refused


def test_failed_file_leaves_the_index_as_it_was(fresh_services, tmp_path):
    ingestor = fresh_services.ingestor()
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
    data = tmp_path / "data"
    with Services(make_settings(data, retrieval={"keyword_bigrams": False})) as first:
        first.catalog.create_kb("kb1")
        path = tmp_path / "invoice.md"
        path.write_text(V2, encoding="utf-8")
        first.ingestor().ingest_file(path, "kb1")
        assert first.keyword.search(["#开具"], ["kb1"], 5) == [], "no character pairs without the setting"

    with Services(make_settings(data, retrieval={"keyword_bigrams": True})) as second:
        assert second.keyword.count() == second.catalog.count_chunks()
        assert second.keyword.search(["#开具"], ["kb1"], 5), "rebuilt with character pairs"


@pytest.mark.services
def test_the_same_cycle_on_a_postgresql_catalog(tmp_path):
    """Ingest, answer, replace, delete with the catalog, jobs and conversations in PostgreSQL."""
    import uuid

    from sqlalchemy import text

    from tests.assistant.storage.conftest import POSTGRES_URL, postgres_admin

    admin = postgres_admin()
    schema = f"cycle_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        settings = make_settings(tmp_path / "data").with_updates(storage={"database_url": url})
        with Services(settings) as services:
            services.catalog.create_kb("kb1")
            path = tmp_path / "invoice.md"
            path.write_text(V1, encoding="utf-8")
            assert services.ingestor().ingest_file(path, "kb1").status == "added"
            first = services.default_pipeline.ask("发票多久开具", kb_ids=["kb1"], conversation_id="api:pg")
            assert "48小时" in first.answer
            path.write_text(V2, encoding="utf-8")
            assert services.ingestor().ingest_file(path, "kb1").status == "replaced"
            assert "24小时" in services.default_pipeline.ask("发票多久开具", kb_ids=["kb1"]).answer
            assert len(services.conversations.recent("api:pg", 10)) == 2
            assert services.keyword.count() == services.catalog.count_chunks()
            assert services.ingestor().delete_document("invoice")
            assert services.catalog.count_chunks() == 0 and services.catalog.leftovers() == []
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
