"""Document ids never collide silently: the same file name replaces its document; another file whose
name gives the same id is refused naming both files; invisible characters cannot disguise a name."""

from __future__ import annotations

from assistant.domain import DocumentMeta

V1 = "# 开票规范\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
V2 = "# 开票规范\n## 开票时间\n确认收货后24小时内开具电子发票。\n"


def write(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def live_text(services, doc_id: str) -> str:
    return " ".join(c.text for c in services.catalog.chunks_of(doc_id))


def test_reuploading_the_same_file_name_replaces_its_document(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    assert ingestor.ingest_file(write(tmp_path / "a", "invoice.md", V1), "kb1").status == "added"
    result = ingestor.ingest_file(write(tmp_path / "b", "Invoice.md", V2), "kb1")  # another folder, other case
    assert (result.status, result.doc_id) == ("replaced", "invoice")
    assert "24小时" in live_text(fresh_services, "invoice") and "48小时" not in live_text(fresh_services, "invoice")


def test_a_file_of_another_type_with_the_same_stem_is_refused_naming_both_files(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    ingestor.ingest_file(write(tmp_path, "x.md", V1), "kb1")
    result = ingestor.ingest_file(write(tmp_path, "x.txt", V2), "kb1")
    assert result.status == "failed"
    assert result.error.startswith("x.txt: the document id 'x' is already used by x.md;")
    assert "doc_id" in result.error and "--id" in result.error, "says how to give an id"
    assert "48小时" in live_text(fresh_services, "x"), "x.md is untouched"
    assert fresh_services.catalog.get_document("x").source == "x.md"


def test_an_id_given_explicitly_replaces_whichever_file_had_it(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    ingestor.ingest_file(write(tmp_path, "x.md", V1), "kb1")
    result = ingestor.ingest_file(write(tmp_path, "x.txt", V2), "kb1", DocumentMeta(id="x"))
    assert (result.status, result.doc_id) == ("replaced", "x")
    assert fresh_services.catalog.get_document("x").source == "x.txt"


def test_a_right_to_left_override_cannot_pass_one_file_off_as_another(make_ingestor, fresh_services, tmp_path):
    ingestor = make_ingestor()
    ingestor.ingest_file(write(tmp_path, "evil.md", V1), "kb1")
    result = ingestor.ingest_file(write(tmp_path, "\u202eevil.md", V2), "kb1")
    assert result.status == "failed"
    assert result.error.startswith("\\u202eevil.md: the document id 'evil' is already used by evil.md;")
    assert "\u202e" not in result.error, "the override is shown as an escape, not applied"
    assert "48小时" in live_text(fresh_services, "evil")


def test_invisible_characters_are_left_out_of_the_id(make_ingestor, tmp_path):
    result = make_ingestor().ingest_file(write(tmp_path, "re\u200bfunds\u2066.md", V1), "kb1")
    assert (result.status, result.doc_id) == ("added", "refunds")


def test_a_name_of_nothing_but_invisible_characters_is_refused(make_ingestor, fresh_services, tmp_path):
    result = make_ingestor().ingest_file(write(tmp_path, "\u202e\u200b.md", V1), "kb1")
    assert result.status == "failed"
    assert result.error.startswith("\\u202e\\u200b.md: the file name has no visible characters")
    assert "rename the file or give it an id" in result.error
    assert fresh_services.catalog.list_documents("kb1") == []


def test_an_explicit_id_holding_invisible_characters_is_refused(make_ingestor, fresh_services, tmp_path):
    result = make_ingestor().ingest_file(write(tmp_path, "a.md", V1), "kb1", DocumentMeta(id="\u202eevil"))
    assert result.status == "failed" and "the document id '\\u202eevil' holds invisible characters" in result.error
    assert fresh_services.catalog.list_documents("kb1") == []


def test_two_files_of_one_upload_with_one_id_are_not_merged_into_one_document(make_ingestor, fresh_services, tmp_path):
    first, second = write(tmp_path / "a", "faq.md", V1), write(tmp_path / "b", "faq.txt", V2)
    results = make_ingestor().ingest_files([first, second], "kb1")
    assert [r.status for r in results] == ["added", "failed"]
    assert results[1].error.startswith("faq.txt: another file of this upload, faq.md, gets the same document id 'faq';")
    assert "48小时" in live_text(fresh_services, "faq") and "24小时" not in live_text(fresh_services, "faq")


def test_the_same_file_name_twice_in_one_upload_is_one_document_not_two_versions(make_ingestor, fresh_services, tmp_path):
    first, second = write(tmp_path / "a", "faq.md", V1), write(tmp_path / "b", "faq.md", V2)
    results = make_ingestor().ingest_files([first, second], "kb1")
    assert [r.status for r in results] == ["added", "failed"]
    assert "another file of this upload, faq.md" in results[1].error
