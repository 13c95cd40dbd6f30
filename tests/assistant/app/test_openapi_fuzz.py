"""Schemathesis against the app's own OpenAPI schema: generated requests to every operation, signed in
as an administrator, never get a 5xx (bounded examples per operation, so it stays a few seconds)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from tests.conftest import served_app

EXAMPLES = 8  # per operation; derandomized, so every run of make test sends the same requests


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("fuzz") / "data") as (client, base, key):
        assert client.post("/v1/kbs", json={"name": "support"}).status_code == 201
        upload = client.post("/v1/kbs/support/documents", data={"doc_id": "invoice"},
                             files={"files": ("invoice.md", "# 发票\n\n确认收货后24小时内开具电子发票。".encode())})
        assert upload.status_code == 202
        session = requests.Session()
        session.trust_env = False
        try:
            yield schemathesis.openapi.from_dict(client.app.openapi()), base, session, {"Authorization": f"Bearer {key}"}
        finally:
            session.close()


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
