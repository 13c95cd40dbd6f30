"""The console's phase-1 pages in Chromium: signing in, administration, uploads followed live, a
document's chunks, the sandbox's trace, departments' knowledge kept apart, the audit log, English.
Each test saves a screenshot of its page into docs/screenshots/ and checks the page asked nothing
of any other host."""

from __future__ import annotations

import base64
import re

from tests.console.conftest import MANAGER, docx_bytes, pdf_bytes


def test_a_wrong_password_shows_the_error_and_the_right_one_lands_on_the_console(browsing):
    page = browsing.page
    browsing.go("/")
    assert page.url.endswith("/console/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("#sign-in")
    assert page.inner_text("#login-error") == "用户名或密码错误。"
    browsing.finish("sign-in")
    page.fill("input[name=password]", "console-admin-pass")
    page.click("#sign-in")
    page.wait_for_selector("#account-menu")
    assert page.url.endswith("/console/kbs")
    assert "管理员" in page.inner_text("#account-menu summary")
    page.click("#account-menu summary")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    browsing.go("/console/kbs")
    assert "/console/login" in page.url  # signed out: the pages ask for a sign-in again


def test_an_admin_creates_a_user_and_an_api_key_shown_once(browsing, site):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/admin/users")
    page.click("#new-user summary")
    page.fill("#new-user input[name=username]", "lily")
    page.fill("#new-user input[name=display_name]", "莉莉")
    page.fill("#new-user input[name=password]", "lily-password")
    page.select_option("#new-user select[name=role]", "agent")
    page.check("#new-user input[name=departments][value=sales]")
    page.click("#create-user")
    page.wait_for_selector(".notice.ok")
    row = page.locator("#user-table tr", has_text="lily")
    assert "客服" in row.inner_text() and "sales" in row.inner_text()
    browsing.finish("users")

    browsing.go("/console/admin/keys")
    page.click("#new-key-form summary")
    page.fill("#new-key-form input[name=name]", "销售热线")
    page.check("#new-key-form input[name=departments][value=sales]")
    page.click("#create-key")
    key = page.inner_text("#new-key")
    assert re.fullmatch(r"k_[0-9a-f]{8}\.\S+", key)
    assert site.api.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["departments"] == ["sales"]
    assert key.split(".")[0] in page.inner_text("#key-table")
    browsing.finish("keys")
    browsing.go("/console/admin/keys")
    assert key not in page.content()  # shown once: only its id is listed afterwards


def test_uploading_a_docx_and_a_pdf_shows_each_files_result_live(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/kbs/uploads")
    docx = docx_bytes("发票开具规范", [("一、开票时间", "确认收货后二十四小时内自动开具电子普通发票。"),
                                      ("二、换开", "开具之日起三十天内可在订单详情页申请换开一次。")])
    # The DOCX is dropped on the drop zone; the PDF is chosen with the file input.
    page.evaluate("""([name, data]) => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    }""", ["invoice-sop.docx", base64.b64encode(docx).decode()])
    page.set_input_files("#upload-input", files=[{
        "name": "shipping.pdf", "mimeType": "application/pdf",
        "buffer": pdf_bytes(["Shipping Policy", "Version: V1.2", "1. Delivery times",
                             "Orders ship within 48 hours of payment.", "2. Lost parcels",
                             "A parcel with no tracking update for 7 days is treated as lost."]),
    }])
    assert page.locator("#chosen li").count() == 2
    page.fill("#upload-form input[name=owner]", "财务部")
    page.fill("#upload-form input[name=version]", "V3.2")
    page.fill("#upload-form input[name=tags]", "发票,物流")
    page.click("#upload-submit")
    page.wait_for_selector("#job-done:not([hidden])", timeout=120_000)
    assert page.inner_text("#job-status") == "已完成"
    results = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
               for row in page.locator("#job-files tbody tr").all()}
    assert results == {"invoice-sop.docx": "已添加", "shipping.pdf": "已添加"}
    assert any(url.endswith("/upload") for url in browsing.requested)
    assert any("/v1/jobs/" in url for url in browsing.requested)  # followed live
    browsing.finish("upload")
    page.click("#job-done a")
    table = page.inner_text("#doc-table")
    assert "发票开具规范" in table and "Shipping Policy" in table and "财务部" in table and "V3.2" in table
    page.fill("#doc-search", "shipping")
    page.press("#doc-search", "Enter")
    page.wait_for_url("**q=shipping**")
    assert page.locator("#doc-table tbody tr").count() == 1


def test_a_documents_page_shows_its_chunks_with_their_sections(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/kbs")
    page.click("a.kb-link:text-is('support')")
    page.click("#doc-table a:text('退货退款服务规范')")
    page.wait_for_selector("#chunk-table")
    chunks = page.inner_text("#chunk-table")
    assert "一、退款时效" in chunks and "三到七个工作日到账" in chunks
    assert "V2.0" in page.inner_text("dl.facts") and "客服部" in page.inner_text("dl.facts")
    browsing.finish("document")


def test_the_sandbox_answers_with_citations_and_its_trace_shows_each_stage_with_scores(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/ask")
    page.fill("#question", "退款多久到账？")
    page.check("input[name=kb][value=support]")
    page.select_option("#audience", "customer")
    page.click("#ask-submit")
    page.wait_for_selector("#answer")
    assert "三到七个工作日" in page.inner_text("#answer")
    assert "退货退款服务规范" in page.inner_text("#citations")
    page.click("#trace-stages > summary")
    for stage in ("bm25", "vector", "fused"):
        page.click(f"#stage-{stage} > summary")
        scores = page.locator(f"#stage-{stage} td.score").all_inner_texts()
        assert scores and all(re.fullmatch(r"-?\d+\.\d{4}", s) for s in scores), (stage, scores)
    assert "refunds" in page.inner_text("#stage-fused")
    page.click("#trace-timings > summary")
    assert "total" in page.inner_text("#trace-timings")
    page.click("#trace-evidence > summary")
    assert page.locator("#trace-evidence dd").count() >= 4
    page.locator("#answer").evaluate("answer => answer.scrollIntoView()")
    browsing.finish("ask")


def test_a_knowledge_manager_sees_only_the_kbs_of_their_department_and_open_ones(browsing):
    page = browsing.page
    browsing.sign_in(*MANAGER)
    browsing.go("/console/kbs")
    listed = page.locator("#kb-table a.kb-link").all_inner_texts()
    assert "finance" in listed and "support" in listed and "sales" not in listed
    browsing.finish("knowledge-bases")
    response = browsing.go("/console/kbs/sales")
    assert response.status == 404 and "知识库不存在" in page.inner_text("h1")
    assert browsing.go("/console/kbs/sales/docs/anything").status == 404
    assert browsing.go("/console/admin/users").status == 403  # administration is for admins


def test_the_audit_page_lists_a_sandbox_question_with_its_channel(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/ask")
    page.fill("#question", "商品签收后几天内可以退货？")
    page.click("#ask-submit")
    page.wait_for_selector("#answer")
    browsing.go("/console/audit?kind=question&channel=console")
    first = page.locator("#audit-table tbody tr").first
    assert "商品签收后几天内可以退货？" in first.inner_text() and "console" in first.inner_text()
    assert "format=csv" in page.get_attribute("#export-csv", "href")
    browsing.finish("audit")


def test_switching_the_language_to_english_shows_english_everywhere(browsing):
    page = browsing.page
    browsing.sign_in()
    browsing.go("/console/health")
    assert page.inner_text("nav.sidebar").count("运行状态") == 1
    page.click("#account-menu summary")
    page.click("a[data-lang=en]")
    page.wait_for_selector("text=Ingestion queue")
    assert "Health" in page.inner_text("h1") and "Knowledge bases" in page.inner_text("nav.sidebar")
    page.click("#account-menu summary")
    assert "Sign out" in page.inner_text("#account-menu")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#account-menu summary")  # closed again for the screenshot
    browsing.finish("health")
    browsing.go("/console/kbs")
    assert "Reading departments" in page.inner_text("#kb-table")  # the choice is kept
