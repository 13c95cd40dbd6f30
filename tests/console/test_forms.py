"""What protects the console's forms, and its words: without a browser, over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from assistant.app.console import web
from assistant.app.console.i18n import LANGUAGES, MESSAGES, Translator, pick_language
from assistant.domain import ROLES
from tests.console.conftest import ADMIN_PASSWORD, MANAGER

CONSOLE = Path(web.__file__).parent


def signed_in(site, username: str = "admin", password: str = ADMIN_PASSWORD) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=site.base, trust_env=False, follow_redirects=True, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text).group(1)
    page = client.post("/console/login", data={"username": username, "password": password, "csrf": token})
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_a_form_post_without_its_sessions_token_or_from_another_origin_is_refused(site):
    client, token = signed_in(site)
    form = {"name": "csrf-probe", "description": ""}
    assert client.post("/console/admin/departments", data=form).status_code == 403
    assert client.post("/console/admin/departments", data={**form, "csrf": "0" * 32}).status_code == 403
    elsewhere = client.post("/console/admin/departments", data={**form, "csrf": token},
                            headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert "csrf-probe" not in {d["name"] for d in site.api.get("/v1/departments").json()}
    assert client.post("/console/admin/departments", data={**form, "csrf": token}).status_code == 200
    assert "csrf-probe" in {d["name"] for d in site.api.get("/v1/departments").json()}
    _, other_token = signed_in(site, *MANAGER)  # another session's token is no good here
    assert other_token != token
    assert client.post("/console/admin/departments/csrf-probe/delete", data={"csrf": other_token}).status_code == 403


def test_the_sign_in_form_takes_only_the_token_of_its_own_page(site):
    stranger = httpx.Client(base_url=site.base, trust_env=False, timeout=60)
    refused = stranger.post("/console/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf": "x"})
    assert refused.status_code == 403 and "assistant_session" not in refused.cookies
    assert "console_login" in refused.cookies and "samesite=strict" in refused.headers["set-cookie"].lower()


def test_a_redirect_after_sign_in_stays_on_this_server():
    assert web.local_path("/console/audit?kind=question") == "/console/audit?kind=question"
    for outside in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""):
        assert web.local_path(outside) == "/console"


def test_the_language_is_the_cookies_then_the_browsers_first_we_speak_else_chinese():
    assert pick_language("en", "zh-CN,zh;q=0.9") == "en"
    assert pick_language(None, "en-US,en;q=0.9,zh;q=0.8") == "en"
    assert pick_language(None, "fr-FR,zh;q=0.5,en;q=0.7") == "en"
    assert pick_language("xx", "de") == "zh" and pick_language(None, None) == "zh"
    assert Translator("en")("pager.summary", total=3, page=1, pages=1) == "3 in all · page 1 of 1"


def test_every_message_the_pages_use_is_written_in_both_languages():
    used = set()
    for template in (CONSOLE / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_.]+)'", template.read_text()))
    for module in set(CONSOLE.glob("*.py")) - {CONSOLE / "i18n.py"}:
        used |= set(re.findall(r"""\bt\(["']([a-z_.]+)["']""", module.read_text()))
    used = {key for key in used if not key.endswith(".")}  # a group's prefix: its members are listed below
    used |= {f"role.{r}" for r in ROLES} | {f"lang.{code}" for code in LANGUAGES}
    used |= {f"audit.kind.{k}" for k in ("question", "admin", "login")}
    used |= {f"js.job.{s}" for s in ("queued", "running", "done", "failed")}
    used |= {f"js.file.{s}" for s in ("queued", "running", "added", "replaced", "unchanged", "failed")}
    used |= {f"nav.{item.key}" for _, items in web.NAV for item in items} | {f"nav.section.{s}" for s, _ in web.NAV}
    used |= {f"stage.{s}" for s in ("bm25", "vector", "fused", "reranked")}
    used |= {f"js.{k}" for k in re.findall(r"""\bt\("([a-z_.]+)["+]""", (CONSOLE / "static" / "console.js").read_text())
             if not k.endswith(".")}
    assert sorted(used - set(MESSAGES)) == []
    assert all(len(texts) == len(LANGUAGES) and all(t.strip() for t in texts) for texts in MESSAGES.values())
