"""Uploading a file again keeps the metadata it is not given: what is given replaces, what is not stays."""

from __future__ import annotations

from assistant.domain import DocumentMeta

V1 = "# 开票规范\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
V2 = "# 开票规范\n## 开票时间\n确认收货后24小时内开具电子发票。\n"
V2_STATED = "# 开票规范\n版本：V3.2\n生效日期：2026-05-01\n## 开票时间\n确认收货后24小时内开具电子发票。\n"
GIVEN = DocumentMeta(
    title="电子发票开具管理规范", version="V3.1", effective_date="2026-03-01", owner="财务结算部",
    tags=["发票", "红冲"], url="https://help.example.com/sop/e-invoice",
)


def described(doc) -> dict:
    return {k: getattr(doc, k) for k in ("title", "version", "effective_date", "owner", "tags", "url")}


def test_reupload_without_metadata_keeps_the_stored_owner_title_version_tags_and_url(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1", GIVEN)
    path.write_text(V2, encoding="utf-8")
    assert ingestor.ingest_file(path, "kb1", DocumentMeta()).status == "replaced"
    doc = fresh_services.catalog.get_document("invoice")
    assert described(doc) == GIVEN.model_dump(exclude={"id"})
    assert "24小时" in " ".join(c.text for c in fresh_services.catalog.chunks_of("invoice"))


def test_metadata_given_on_reupload_replaces_only_the_fields_given(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1", GIVEN)
    ingestor.ingest_file(path, "kb1", DocumentMeta(owner="客服中心", tags="发票，专票"))
    doc = fresh_services.catalog.get_document("invoice")
    assert (doc.owner, doc.tags) == ("客服中心", ["发票", "专票"])
    assert (doc.title, doc.version, doc.url) == (GIVEN.title, GIVEN.version, GIVEN.url)


def test_a_new_file_stating_its_own_version_and_date_updates_them(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1", GIVEN)
    path.write_text(V2_STATED, encoding="utf-8")
    ingestor.ingest_file(path, "kb1")
    doc = fresh_services.catalog.get_document("invoice")
    assert (doc.version, doc.effective_date) == ("V3.2", "2026-05-01")
    assert (doc.owner, doc.title) == (GIVEN.owner, GIVEN.title)


def test_the_same_file_uploaded_again_without_its_metadata_is_unchanged(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    path = tmp_path / "invoice.md"
    path.write_text(V1, encoding="utf-8")
    ingestor.ingest_file(path, "kb1", GIVEN)
    assert ingestor.ingest_file(path, "kb1").status == "unchanged"
    assert fresh_services.catalog.get_document("invoice").owner == GIVEN.owner
