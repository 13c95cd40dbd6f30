"""Uploads over HTTP: a job per upload, per-file results, bad files rejected by name, the rest ingested."""

from __future__ import annotations

import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from tests.conftest import as_admin, make_settings

SOP_V1 = "# 开票规范\n版本：V3.1\n## 开票时间\n确认收货后48小时内开具电子发票。\n"
SOP_V2 = "# 开票规范\n版本：V3.2\n## 开票时间\n确认收货后24小时内开具电子发票。\n"


@pytest.fixture
def client(tmp_path):
    settings = make_settings(tmp_path / "data", ingestion={"max_upload_mb": 1})
    app = create_app(settings)
    with TestClient(app) as client:
        as_admin(client, settings)
        assert client.post("/v1/kbs", json={"name": "finance"}).status_code == 201
        yield client


def wait(client, job_url: str) -> dict:
    for _ in range(600):
        job = client.get(job_url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def upload(client, files: dict[str, bytes], **fields) -> dict:
    response = client.post(
        "/v1/kbs/finance/documents", files=[("files", (n, b)) for n, b in files.items()], data=fields
    )
    assert response.status_code == 202, response.text
    return wait(client, response.json()["status_url"])


def bomb() -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * (210 * 1024 * 1024))
    return buf.getvalue()


def test_one_upload_with_every_kind_of_bad_file_still_ingests_the_good_one(client):
    job = upload(client, {
        "invoice.md": SOP_V1.encode(),
        "corrupt.pdf": b"%PDF-1.7\n" + b"\x00garbage" * 100,
        "empty.txt": b"",
        "lies.docx": "其实是纯文本".encode(),
        "bomb.docx": bomb(),
        "huge.md": b"#" * (1024 * 1024 + 10),
        "faq.csv": "question,category\n怎么退货,退货\n".encode(),
    })
    assert job["status"] == "done" and job["done"] == 7
    results = {f["source"]: f for f in job["files"]}
    assert results["invoice.md"]["status"] == "added"
    expected = {
        "corrupt.pdf": "not a readable PDF",
        "empty.txt": "the file is empty",
        "lies.docx": "not a valid DOCX file",
        "bomb.docx": "zip bomb",
        "huge.md": "over the 1 MB limit",
        "faq.csv": "missing the answer column",
    }
    for name, problem in expected.items():
        assert results[name]["status"] == "failed", name
        assert name in results[name]["error"] and problem in results[name]["error"], results[name]["error"]
    listed = client.get("/v1/kbs/finance/documents").json()
    assert [d["id"] for d in listed["documents"]] == ["invoice"] and listed["total"] == 1


def test_reupload_replaces_and_the_answer_follows_the_new_version(client):
    upload(client, {"invoice.md": SOP_V1.encode()})
    job = upload(client, {"invoice.md": SOP_V2.encode()})
    assert job["files"][0]["status"] == "replaced"
    answer = client.post("/v1/ask", json={"question": "发票多久开具", "kb": "finance"}).json()
    assert "24小时" in answer["answer"] and "48小时" not in answer["answer"]
    assert answer["citations"][0]["version"] == "V3.2"
    assert upload(client, {"invoice.md": SOP_V2.encode()})["files"][0]["status"] == "unchanged"


def test_metadata_fields_land_on_the_document_and_its_citations(client):
    upload(client, {"invoice.md": SOP_V2.encode()}, doc_id="inv-sop", title="电子发票开具规范",
           owner="财务部", tags="发票,财务", url="https://kb.example.com/inv")
    doc = client.get("/v1/kbs/finance/documents/inv-sop").json()
    assert (doc["title"], doc["owner"], doc["tags"], doc["version"]) == ("电子发票开具规范", "财务部", ["发票", "财务"], "V3.2")
    answer = client.post("/v1/ask", json={"question": "发票多久开具"}).json()
    assert answer["citations"][0]["url"] == "https://kb.example.com/inv"


def test_deleting_a_document_over_http_removes_it_from_answers(client):
    upload(client, {"invoice.md": SOP_V2.encode()})
    assert client.delete("/v1/kbs/finance/documents/invoice").status_code == 200
    assert client.get("/v1/kbs/finance/documents/invoice").status_code == 404
    assert client.post("/v1/ask", json={"question": "发票多久开具"}).json()["refused"] is True


def test_unknown_kb_and_unknown_job_are_404(client):
    assert client.post("/v1/kbs/nope/documents", files=[("files", ("a.md", b"# a\n"))]).status_code == 404
    assert client.get("/v1/jobs/doesnotexist").status_code == 404
    assert client.post("/v1/kbs", json={"name": "Bad Name!"}).status_code == 400
