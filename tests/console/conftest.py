"""The console in a real browser: the real app served by uvicorn on 127.0.0.1 (a temporary data
directory, no reranker), and Debian's Chromium driven by Playwright (no browser is downloaded).

The app has one DingTalk robot (``support``, secret ``DINGTALK_SECRET``) whose replies go to a fake
DingTalk server on 127.0.0.1 (``Site.dingtalk``), so a test can send it a signed callback.

Every test gets a fresh page with no cookies; every request the page makes is recorded, and
``Browsing.finish`` asserts that none went to any host but the app's own and saves the screenshot
of the page the test covers (1280x800) into ``docs/screenshots/`` when ``UPDATE_SCREENSHOTS`` is set.

Without Chromium at ``/usr/bin/chromium`` these tests fail (they do not skip): ``make install``
installs it as root (``apt-get install chromium``).
"""

from __future__ import annotations

import io
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from assistant.app.api import create_app
from tests.conftest import REPO, make_settings
from tests.connectors.conftest import FakePlatform

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The README's screenshots are remade only when asked (UPDATE_SCREENSHOTS=1 make test): every run
# renders slightly different pixels, which would leave a clean checkout changed after `make test`.
SHOTS = (REPO / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
         else Path(tempfile.gettempdir()) / "assistant-console-screenshots")
VIEWPORT = {"width": 1280, "height": 800}
ADMIN_PASSWORD = "console-admin-pass"
MANAGER = ("wang", "wang-password-1")  # a knowledge manager of the finance department
DINGTALK_SECRET = "console-dingtalk-secret"
SEED_SOP = """# 退货退款服务规范
版本：V2.0
## 一、退款时效
退款审核通过后，原路退回，三到七个工作日到账。
## 二、退货条件
商品签收后七天内可申请无理由退货，需保持商品完好。
""".encode()


class Served:
    """The app under uvicorn in a thread (with its lifespan: storage, worker, models), on a free port."""

    def __init__(self, app):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 180  # the first start loads the embedding model
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting the app"
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@dataclass
class Site:
    """The served app, an admin API client, and what the fixtures put in it."""

    base: str
    api: httpx.Client
    app: object
    dingtalk: FakePlatform  # where the DingTalk robot's replies go

    def wait_for_job(self, status_url: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.api.get(status_url).json()
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {status_url} did not finish")


@pytest.fixture(scope="session")
def site(tmp_path_factory, monkeypatch_session):
    """The app with departments finance and sales, knowledge bases support (open), finance and sales
    (owned by those departments) and uploads (open, empty), a finance knowledge manager, and one SOP
    in support."""
    dingtalk = FakePlatform()
    robot = {"name": "support", "app_key": "console-dingtalk", "app_secret": DINGTALK_SECRET,
             "api_base": dingtalk.base, "webhook_hosts": [dingtalk.netloc]}
    settings = make_settings(tmp_path_factory.mktemp("console-data"), models={"reranker": "none"},
                             auth={"admin_password": ADMIN_PASSWORD}, erp={"base_url": None},
                             connectors={"dingtalk": [robot]})
    app = create_app(settings)
    served = Served(app)
    key = (settings.storage.data_dir / "cli.key").read_text().strip()
    api = httpx.Client(base_url=served.base, headers={"Authorization": f"Bearer {key}"}, trust_env=False, timeout=60)
    for name, description in (("finance", "财务部"), ("sales", "销售部")):
        assert api.post("/v1/departments", json={"name": name, "description": description}).status_code == 201
    for name, department in (("support", None), ("finance", "finance"), ("sales", "sales"), ("uploads", None)):
        assert api.post("/v1/kbs", json={"name": name, "department": department}).status_code == 201
    assert api.post("/v1/users", json={"username": MANAGER[0], "password": MANAGER[1], "role": "knowledge_manager",
                                       "departments": ["finance"], "display_name": "王会计"}).status_code == 201
    found = Site(served.base, api, app, dingtalk)
    job = api.post("/v1/kbs/support/documents", files=[("files", ("refunds.md", SEED_SOP))],
                   data={"owner": "客服部", "version": "V2.0"}).json()
    assert found.wait_for_job(job["status_url"])["files"][0]["status"] == "added"
    yield found
    api.close()
    served.close()
    dingtalk.close()


@pytest.fixture(scope="session")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        patch.setenv("no_proxy", "127.0.0.1,localhost")
        yield patch


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make install` as root (it runs "
                    "`apt-get install -y chromium`), or install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport=VIEWPORT, locale="zh-CN",
        )
        yield context
        context.close()


@dataclass
class Browsing:
    """A page of the console and every URL it requested."""

    page: object
    base: str
    requested: list[str] = field(default_factory=list)

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def sign_in(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        self.go("/console/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("#sign-in")
        self.page.wait_for_selector("#account-menu")

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requested if not url.startswith(self.base + "/")]

    def finish(self, shot: str) -> None:
        """Save the screenshot of the page the test covers; no request may have left the app."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{shot}.png"))
        assert self.requested, "the page made no request at all"
        assert self.foreign_requests() == []


@pytest.fixture
def browsing(site, browser_context):
    browser_context.clear_cookies()
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    browsing = Browsing(page, site.base)
    page.on("request", lambda request: browsing.requested.append(request.url))
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations before deleting
    yield browsing
    page.close()
    assert browsing.foreign_requests() == []


def docx_bytes(title: str, sections: list[tuple[str, str]]) -> bytes:
    """A DOCX with a title and one heading and paragraph per section (python-docx)."""
    from docx import Document

    document = Document()
    document.add_heading(title, level=0)
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF with a text layer (reportlab's built-in Latin font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    y = 800
    for line in lines:
        pdf.drawString(60, y, line)
        y -= 18
    pdf.showPage()
    pdf.save()
    return out.getvalue()
