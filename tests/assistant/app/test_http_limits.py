"""What the server refuses before a handler runs, and what it refuses in uploads: each a clear 4xx,
nothing spooled, nothing left behind (the probing findings of issue 12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.app.api import create_app
from tests.conftest import as_admin, make_settings


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("limits"), models={"reranker": "none"},
                             server={"max_request_upload_mb": 2})
    app = create_app(settings)
    with TestClient(app) as client:
        as_admin(client, settings)
        assert client.post("/v1/kbs", json={"name": "kb1"}).status_code == 201
        yield client, settings


def test_an_over_long_question_is_a_422_naming_the_field_without_echoing_it(setup):
    client, _ = setup
    question = "退款" * 3000
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "question"]
    assert "4000" in response.json()["detail"][0]["msg"]
    assert "退款退款" not in response.text and len(response.text) < 500


def test_a_lone_surrogate_is_a_400_not_a_500(setup):
    client, _ = setup
    for body in (b'{"question": "\\ud800 refund"}', b'{"question": "ok \\udc00"}',
                 b'{"name": "kb2", "description": "\\udbff"}'):
        path = "/v1/kbs" if b"name" in body else "/v1/ask"
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert "surrogate" in response.json()["detail"]
    paired = client.post("/v1/ask", content=b'{"question": "\\ud83d\\ude00 \\u9000\\u6b3e"}',
                         headers={"content-type": "application/json"})
    assert paired.status_code == 200  # a real pair (an emoji) is text


def test_a_json_body_over_the_cap_is_refused_before_it_is_read(setup):
    client, _ = setup
    big = b'{"question": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    response = client.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "1 MB" in response.json()["detail"]


def test_an_upload_over_the_request_cap_is_refused_and_nothing_is_spooled(setup):
    client, settings = setup
    uploads = settings.storage.uploads_dir
    before = set(uploads.iterdir()) if uploads.exists() else set()

    def chunks():  # a chunked body with no length declared: counted as it arrives
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.md\"\r\n\r\n"
        yield boundary
        for _ in range(40):
            yield b"x" * (100 * 1024)
        yield b"\r\n--b--\r\n"

    response = client.post("/v1/kbs/kb1/documents", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and "2 MB" in response.json()["detail"]
    declared = client.post("/v1/kbs/kb1/documents", content=b"x" * 10,
                           headers={"content-type": "multipart/form-data; boundary=b",
                                    "content-length": str(400 * 1024 * 1024)})
    assert declared.status_code == 413
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before


@pytest.mark.parametrize("name", ["..", ".", "a\x00b.txt", "x" * 300 + ".md", "\u202eevil.md", "dir/../.."])
def test_bad_upload_file_names_are_a_400_naming_the_file_and_leave_no_folder(setup, name):
    client, settings = setup
    uploads = settings.storage.uploads_dir
    before = set(uploads.iterdir()) if uploads.exists() else set()
    body = (b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + name.encode()
            + b"\"\r\n\r\nhello\r\n--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"good.md\""
            + b"\r\n\r\n# ok\r\n--b--\r\n")
    response = client.post("/v1/kbs/kb1/documents", content=body,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 400, response.text
    assert "file name" in response.json()["detail"]
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before  # the good file was not queued either
