"""Who may call what over HTTP: every route needs a principal but health and sign-in, writes need the
role and the department, keys and sessions can be revoked, and the first start creates an admin."""

from __future__ import annotations

import re
import stat

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from assistant.app.api import create_app
from tests.conftest import as_admin, make_settings

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/auth/login"), ("POST", "/v1/auth/logout")}  # and /metrics from loopback (below)
CONSOLE_PUBLIC = {("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/console/lang")}
SOP = "# 差旅报销规范\n## 报销时限\n出差结束后 30 天内提交报销单。\n".encode()


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("access"), models={"reranker": "none"},
                             auth={"admin_password": "first-admin-pass"})
    app = create_app(settings)
    with TestClient(app) as client:
        services = app.state.services
        services.directory.create_department("finance", "财务部")
        services.directory.create_department("sales", "销售部")
        admin = as_admin(TestClient(app), settings)
        assert admin.post("/v1/kbs", json={"name": "fin", "department": "finance"}).status_code == 201
        assert admin.post("/v1/kbs", json={"name": "sal", "department": "sales"}).status_code == 201
        yield app, client, settings


def key_for(app, role: str, departments: list[str] | None = None, **extra) -> str:
    _, key = app.state.services.auth.create_key(role, departments=departments or [], **extra)
    return key


def client_with(app, key: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {key}"})


def every_route(routes) -> list[tuple[str, str]]:
    """(method, path) of every route, included routers too (IM callbacks carry their own signatures)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            found += every_route(route.original_router.routes)
        elif isinstance(route, (APIRoute, Route)) and not route.path.startswith("/callbacks/"):
            found += [(method, route.path) for method in sorted(route.methods - {"HEAD", "OPTIONS"})]
    return found


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) in ("{rule_id}", "{entry_id}") else "x", path)


def test_every_route_but_health_and_sign_in_answers_401_without_credentials(app_client):
    app, client, _ = app_client
    routes = every_route(app.routes)
    assert len(routes) > 30  # the API, administration, audit, OpenAI endpoint, docs
    anonymous = TestClient(app)
    for method, path in routes:
        if (method, path) in PUBLIC | CONSOLE_PUBLIC:
            continue
        if path == "/" or path.startswith("/console"):  # the console's pages send people to sign in
            response = anonymous.request(method, filled(path), data={}, follow_redirects=False)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/console/login"), (method, path)
            continue
        response = anonymous.request(method, filled(path), json={})
        assert response.status_code == 401, (method, path, response.status_code)
    assert anonymous.get("/healthz").json() == {"status": "ok", "version": anonymous.get("/healthz").json()["version"]}


def test_a_forged_or_revoked_or_expired_key_is_no_key(app_client):
    app, _, _ = app_client
    key = key_for(app, "agent")
    assert client_with(app, key).get("/v1/kbs").status_code == 200
    forged = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    assert client_with(app, forged).get("/v1/kbs").status_code == 401
    assert client_with(app, "not-a-key").get("/v1/kbs").status_code == 401
    key_id = key.split(".")[0]
    admin = client_with(app, key_for(app, "admin"))
    assert admin.delete(f"/v1/keys/{key_id}").status_code == 200
    assert client_with(app, key).get("/v1/kbs").status_code == 401
    expired = key_for(app, "agent", expires_in_days=1e-9)
    assert client_with(app, expired).get("/v1/kbs").status_code == 401


WRITES = [
    ("POST", "/v1/kbs", {"json": {"name": "newkb"}}),
    ("DELETE", "/v1/kbs/fin", {}),
    ("POST", "/v1/kbs/fin/documents", {"files": [("files", ("a.md", SOP))]}),
    ("DELETE", "/v1/kbs/fin/documents/a", {}),
    ("PATCH", "/v1/kbs/fin/documents/a", {"json": {"disabled": True}}),
    ("POST", "/v1/kbs/fin/curated", {"json": {"question": "报销找谁？", "answer": "找财务。"}}),
    ("PUT", "/v1/kbs/fin/curated/a", {"json": {"question": "报销找谁？", "answer": "找财务。"}}),
    ("POST", "/v1/gaps/1/dismiss", {}),
    ("POST", "/v1/gaps/1/curate", {"json": {"kb": "fin", "question": "报销找谁？", "answer": "找财务。"}}),
]
ADMIN_ONLY = [
    ("GET", "/v1/users", {}), ("POST", "/v1/users", {"json": {"username": "zed", "password": "p" * 10, "role": "admin"}}),
    ("GET", "/v1/keys", {}), ("POST", "/v1/keys", {"json": {"role": "admin"}}),
    ("POST", "/v1/departments", {"json": {"name": "evil"}}), ("PUT", "/v1/kbs/fin/access", {"json": {"department": None}}),
    ("POST", "/v1/im-rules", {"json": {"role": "admin"}}),
    ("POST", "/v1/customer-bindings", {"json": {"platform": "feishu", "user_id": "u", "customer_id": "C1"}}),
]


@pytest.mark.parametrize("role", ["agent", "customer"])
def test_roles_that_may_not_write_get_403_on_every_write(app_client, role):
    app, _, _ = app_client
    client = client_with(app, key_for(app, role, ["finance"]))
    for method, path, kwargs in WRITES + ADMIN_ONLY:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
    assert {kb["name"] for kb in client.get("/v1/kbs").json()} == {"fin"}  # and nothing changed


def test_a_knowledge_manager_writes_their_departments_kbs_only(app_client):
    app, _, _ = app_client
    manager = client_with(app, key_for(app, "knowledge_manager", ["finance"]))
    for method, path, kwargs in ADMIN_ONLY:
        assert manager.request(method, path, **kwargs).status_code == 403, (method, path)
    response = manager.post("/v1/kbs/fin/documents", files=[("files", ("travel.md", SOP))])
    assert response.status_code == 202
    # another department's KB does not exist for them, to read or to write
    assert manager.post("/v1/kbs/sal/documents", files=[("files", ("x.md", SOP))]).status_code == 404
    assert manager.delete("/v1/kbs/sal").status_code == 404
    assert manager.get("/v1/kbs/sal/documents").status_code == 404
    # a KB they create belongs to their department
    created = manager.post("/v1/kbs", json={"name": "fin-faq"}).json()
    assert created["department"] == "finance"
    assert manager.post("/v1/kbs", json={"name": "x-sales", "department": "sales"}).status_code == 403
    # granted reading, sales may read fin but still not change it
    admin = client_with(app, key_for(app, "admin"))
    assert admin.put("/v1/kbs/fin-faq/access", json={"department": "finance", "readers": ["sales"]}).status_code == 200
    sales_manager = client_with(app, key_for(app, "knowledge_manager", ["sales"]))
    assert sales_manager.get("/v1/kbs/fin-faq/documents").status_code == 200
    assert sales_manager.delete("/v1/kbs/fin-faq").status_code == 403
    assert manager.delete("/v1/kbs/fin-faq").status_code == 200


def test_console_sign_in_sets_a_session_that_ends_when_the_account_is_disabled(app_client):
    app, _, _ = app_client
    admin = client_with(app, key_for(app, "admin"))
    assert admin.post("/v1/users", json={"username": "lily", "password": "correct-horse", "role": "agent",
                                         "departments": ["sales"], "display_name": "莉莉"}).status_code == 201
    browser = TestClient(app)
    assert browser.post("/v1/auth/login", json={"username": "lily", "password": "wrong-horse"}).status_code == 401
    assert browser.post("/v1/auth/login", json={"username": "nobody", "password": "wrong-horse"}).status_code == 401
    signed = browser.post("/v1/auth/login", json={"username": "lily", "password": "correct-horse"})
    assert signed.status_code == 200 and "httponly" in signed.headers["set-cookie"].lower()
    assert browser.get("/v1/me").json()["departments"] == ["sales"]
    assert [kb["name"] for kb in browser.get("/v1/kbs").json()] == ["sal"]
    assert admin.patch("/v1/users/lily", json={"disabled": True}).status_code == 200
    assert browser.get("/v1/me").status_code == 401
    tampered = TestClient(app, cookies={"assistant_session": signed.cookies["assistant_session"][:-2] + "xx"})
    assert tampered.get("/v1/me").status_code == 401


def test_guessing_an_accounts_password_is_stopped_after_the_allowed_attempts_even_with_the_right_one(app_client):
    from assistant.app.administration import SIGN_INS_PER_15_MIN

    app, _, _ = app_client
    admin = client_with(app, key_for(app, "admin"))
    assert admin.post("/v1/users", json={"username": "target", "password": "the-real-one", "role": "agent"}).status_code == 201
    guesser = TestClient(app)
    codes = [guesser.post("/v1/auth/login", json={"username": "target", "password": f"guess-{n}"}).status_code
             for n in range(SIGN_INS_PER_15_MIN)]
    assert codes == [401] * SIGN_INS_PER_15_MIN
    locked = guesser.post("/v1/auth/login", json={"username": "target", "password": "the-real-one"})
    assert locked.status_code == 429 and "15" in locked.json()["detail"]
    assert "assistant_session" not in locked.cookies
    other = TestClient(app).post("/v1/auth/login", json={"username": "admin", "password": "wrong"})
    assert other.status_code == 401  # another account is not locked by it


def test_the_first_start_created_an_admin_with_the_configured_password_and_a_private_cli_key(app_client):
    app, _, settings = app_client
    browser = TestClient(app)
    assert browser.post("/v1/auth/login", json={"username": "admin", "password": "first-admin-pass"}).status_code == 200
    key_file = settings.storage.data_dir / "cli.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert browser.get("/v1/users").status_code == 200  # the admin administers


def test_a_generated_first_password_is_printed_once_and_never_logged(tmp_path, capsys, caplog):
    settings = make_settings(tmp_path / "d", models={"reranker": "none"})
    with TestClient(create_app(settings)):
        pass
    printed = capsys.readouterr().err
    password = re.search(r"password \(shown this once.*\): (\S+)", printed).group(1)
    assert password not in caplog.text
    with TestClient(create_app(settings)) as again:  # second start: nothing new, nothing printed
        assert again.post("/v1/auth/login", json={"username": "admin", "password": password}).status_code == 200
    assert "password" not in capsys.readouterr().err


def test_metrics_answer_loopback_without_an_account_and_anyone_else_not_even_with_an_api_key(app_client):
    app, _, _ = app_client
    assert TestClient(app, client=("127.0.0.1", 50000)).get("/metrics").status_code == 200
    assert TestClient(app).get("/metrics").status_code == 401  # TestClient's own host is not loopback
    assert client_with(app, key_for(app, "admin")).get("/metrics").status_code == 401  # no metrics token set
