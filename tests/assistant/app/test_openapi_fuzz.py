"""Schemathesis against the app's own OpenAPI schema: generated requests to every operation, signed in
as an administrator, never get a 5xx (bounded examples per operation, so it stays a few seconds)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from assistant.app.api import create_app
from tests.conftest import make_settings
from tests.connectors.conftest import Server

EXAMPLES = 8  # per operation; derandomized, so every run of make test sends the same requests


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("fuzz") / "data")
    app = create_app(settings)
    with TestClient(app) as client:
        key = (settings.storage.data_dir / "cli.key").read_text().strip()
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.post("/v1/kbs", json={"name": "support"}).status_code == 201
        upload = client.post("/v1/kbs/support/documents", data={"doc_id": "invoice"},
                             files={"files": ("invoice.md", "# 发票\n\n确认收货后24小时内开具电子发票。".encode())})
        assert upload.status_code == 202
        server = Server(app)  # over a real socket, as clients call it (the lifespan is the test client's)
        session = requests.Session()
        session.trust_env = False
        try:
            yield schemathesis.openapi.from_dict(app.openapi()), server.base, session, {"Authorization": f"Bearer {key}"}
        finally:
            session.close()
            server.close()


def test_generated_requests_to_every_operation_never_get_a_5xx(served):
    schema, base, session, headers = served
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the schema lists the API's operations"
    failures: list[str] = []

    for operation in operations:
        @examples(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case) -> None:
            response = case.call(base_url=base, session=session, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200} -> {response.status_code}")

        call()
    assert failures == [], "\n".join(failures[:10])
