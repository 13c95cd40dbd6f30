"""The ``Catalog`` contract, on every SQL backend: what is live, switched in one step, and what is left."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from assistant.domain import Chunk, Document
from assistant.errors import AssistantError, InvalidName, UnknownKnowledgeBase
from assistant.storage.interfaces import WHOLE_KB, Leftover
from assistant.storage.sql.catalog import SqlCatalog


def doc(doc_id: str, kb: str = "kb1", **fields) -> Document:
    return Document(id=doc_id, kb=kb, title=fields.pop("title", f"标题 {doc_id}"), **fields)


def chunk(doc_id: str, n: int, text: str, kb: str = "kb1") -> Chunk:
    return Chunk(id=f"{doc_id}-{n}-{abs(hash(text)) % 10**8}", doc_id=doc_id, kb=kb, ordinal=n, text=text, section="一、总则")


@pytest.fixture
def catalog(engine) -> SqlCatalog:
    catalog = SqlCatalog(engine)
    assert catalog.create_kb("kb1", "客服知识库")
    return catalog


def test_knowledge_bases_are_created_once_listed_with_counts_and_deleted(catalog):
    assert catalog.create_kb("kb1") is False
    assert catalog.create_kb("finance", "财务")
    catalog.replace_document(doc("a"), [chunk("a", 0, "退款三到七个工作日到账。")])
    listed = {kb.name: kb for kb in catalog.list_kbs()}
    assert listed["kb1"].documents == 1 and listed["finance"].documents == 0
    assert listed["kb1"].description == "客服知识库"
    assert catalog.delete_kb("kb1") == [chunk("a", 0, "退款三到七个工作日到账。").id]
    assert not catalog.kb_exists("kb1") and catalog.get_document("a") is None
    with pytest.raises(UnknownKnowledgeBase):
        catalog.require_kb("kb1")


@pytest.mark.parametrize("name", ["A", "x", "with space", "中文", "-dash", "a" * 64])
def test_invalid_knowledge_base_names_are_refused_with_the_rule(catalog, name):
    with pytest.raises(InvalidName, match="lower-case letters"):
        catalog.create_kb(name)


def test_creating_one_knowledge_base_from_many_threads_creates_it_once(catalog):
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(catalog.create_kb("race"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_replace_switches_to_exactly_the_new_chunks_and_keeps_unchanged_ids(catalog):
    v1 = [chunk("a", 0, "开票时间：48小时。"), chunk("a", 1, "专票需要审核。")]
    first = catalog.replace_document(doc("a", version="V1"), v1)
    assert [c.id for c in first.added] == [c.id for c in v1] and first.removed_ids == []
    kept = v1[1].model_copy(update={"ordinal": 0, "section": "二、专票"})
    v2 = [kept, chunk("a", 1, "开票时间：24小时。")]
    second = catalog.replace_document(doc("a", version="V2"), v2)
    assert [c.id for c in second.added] == [v2[1].id]
    assert second.removed_ids == [v1[0].id]
    live = catalog.chunks_of("a")
    assert [c.id for c in live] == [kept.id, v2[1].id]
    assert live[0].section == "二、专票", "an unchanged chunk follows its new heading"
    assert catalog.get_document("a").version == "V2"
    assert catalog.list_documents("kb1")[0][1] == 2


def test_resolve_returns_only_live_chunks_with_their_citation_fields(catalog):
    catalog.replace_document(doc("a", title="电子发票规范", url="https://kb/a", version="V3"), [chunk("a", 0, "普票自动开具。")])
    live_id = catalog.chunk_ids("a")[0]
    resolved = catalog.resolve([live_id, "gone", live_id])
    assert list(resolved) == [live_id]
    hit = resolved[live_id]
    assert (hit.title, hit.url, hit.version) == ("电子发票规范", "https://kb/a", "V3")
    assert hit.chunk.text == "普票自动开具。"
    assert catalog.resolve([]) == {}


def test_a_document_id_belongs_to_one_knowledge_base(catalog):
    catalog.create_kb("finance")
    catalog.replace_document(doc("a"), [chunk("a", 0, "内容。")])
    with pytest.raises(AssistantError, match="already belongs to knowledge base 'kb1'"):
        catalog.replace_document(doc("a", kb="finance"), [chunk("a", 0, "别的内容。", kb="finance")])
    with pytest.raises(UnknownKnowledgeBase):
        catalog.replace_document(doc("b", kb="nope"), [chunk("b", 0, "x", kb="nope")])


def test_delete_document_returns_its_live_chunks_and_leaves_others(catalog):
    catalog.replace_document(doc("a"), [chunk("a", 0, "甲。")])
    catalog.replace_document(doc("b"), [chunk("b", 0, "乙。")])
    assert catalog.delete_document("a") == [chunk("a", 0, "甲。").id]
    assert catalog.delete_document("a") == []
    assert catalog.count_chunks() == 1 and catalog.count_chunks(["kb1"]) == 1
    assert catalog.chunk_ids_of_kb("kb1") == [chunk("b", 0, "乙。").id]


def test_iter_chunks_pages_through_every_live_chunk(catalog):
    for d in range(5):
        catalog.replace_document(doc(f"d{d}"), [chunk(f"d{d}", n, f"第{d}篇第{n}段。") for n in range(7)])
    seen = [c.id for c in catalog.iter_chunks(batch=4)]
    assert len(seen) == 35 and len(set(seen)) == 35


def test_the_vocabulary_version_changes_when_tags_may_have(catalog):
    before = catalog.vocabulary_version()
    catalog.replace_document(doc("a", tags=["运费险", "电子发票"]), [chunk("a", 0, "x。")])
    assert catalog.vocabulary_version() != before
    assert catalog.vocabulary() == {"运费险", "电子发票"}


# -- the ledger ---------------------------------------------------------------------------------
def test_a_switch_retires_the_old_chunks_until_they_are_settled(catalog):
    old = chunk("a", 0, "旧的。")
    catalog.replace_document(doc("a"), [old])
    catalog.replace_document(doc("a"), [chunk("a", 0, "新的。")])
    assert catalog.leftovers() == [Leftover("kb1", old.id)]
    catalog.settle("kb1", [old.id])
    assert catalog.leftovers() == []


def test_staged_chunks_are_leftovers_only_once_their_writer_is_overdue(catalog):
    fresh = chunk("a", 0, "正在写入。")
    catalog.stage("kb1", [fresh.id], ttl_seconds=60)
    assert catalog.leftovers() == [], "a writer still within its time is left alone"
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert catalog.leftovers(now=later) == [Leftover("kb1", fresh.id)]


def test_a_live_chunk_is_never_a_leftover(catalog):
    fresh = chunk("a", 0, "上线了。")
    catalog.stage("kb1", [fresh.id], ttl_seconds=1)
    catalog.replace_document(doc("a"), [fresh])  # the writer died after the switch, before settling
    later = datetime.now(timezone.utc) + timedelta(seconds=60)
    assert catalog.leftovers(now=later) == []
    assert catalog.leftovers(now=later) == [], "and its staged entry was forgotten"


def test_a_retired_chunk_staged_again_by_a_live_writer_is_not_purged(catalog):
    text_ = "同一段文字。"
    catalog.replace_document(doc("a"), [chunk("a", 0, text_)])
    catalog.replace_document(doc("a"), [chunk("a", 0, "另一段。")])  # retires the first
    catalog.stage("kb1", [chunk("a", 0, text_).id], ttl_seconds=60)  # a new upload brings it back
    assert catalog.leftovers() == [], "purging it now would remove what the writer just indexed"
    catalog.settle("kb1", [chunk("a", 0, text_).id])
    assert catalog.leftovers() == []


def test_deleting_a_knowledge_base_leaves_one_entry_for_all_its_chunks(catalog):
    catalog.replace_document(doc("a"), [chunk("a", n, f"段{n}。") for n in range(3)])
    catalog.delete_kb("kb1")
    assert catalog.leftovers() == [Leftover("kb1", WHOLE_KB)]


def test_a_page_of_documents_is_newest_first_with_the_total_and_searchable(catalog):
    catalog.create_kb("other")
    for n in range(7):
        catalog.replace_document(doc(f"d{n}", owner="财务部" if n % 2 else "客服部", tags=["发票"] if n == 3 else []),
                                 [chunk(f"d{n}", 0, f"第{n}篇。")])
    catalog.replace_document(doc("elsewhere", kb="other"), [])
    first = catalog.page_documents("kb1", limit=3)
    assert first.total == 7 and [d.id for d, _ in first.documents] == ["d6", "d5", "d4"]
    assert [n for _, n in first.documents] == [1, 1, 1]
    assert [d.id for d, _ in catalog.page_documents("kb1", offset=6, limit=3).documents] == ["d0"]
    owned = catalog.page_documents("kb1", search="财务")
    assert owned.total == 3 and {d.id for d, _ in owned.documents} == {"d1", "d3", "d5"}
    assert [d.id for d, _ in catalog.page_documents("kb1", search="发票").documents] == ["d3"]  # a tag
    assert catalog.page_documents("kb1", search="D6").total == 1  # case-insensitive
    assert catalog.page_documents("kb1", search="%").total == 0  # a plain character, not a wildcard
    assert catalog.chunk_counts() == {"kb1": 7, "other": 0}


# -- disabled documents, history, paging (the documents backend) --------------------------------------
def test_a_disabled_document_stays_listed_but_is_never_resolved_until_enabled(catalog):
    catalog.replace_document(doc("a"), [chunk("a", 0, "退款三到七个工作日到账。")])
    live_id = catalog.chunk_ids("a")[0]
    disabled = catalog.set_disabled("a", True, by="user:wang")
    assert disabled.disabled and catalog.get_document("a").disabled
    assert catalog.resolve([live_id]) == {}, "no retrieval stage can see a disabled document"
    assert [d.id for d, _ in catalog.list_documents("kb1")] == ["a"] and catalog.chunk_ids("a") == [live_id]
    catalog.replace_document(doc("a", version="V2"), [chunk("a", 0, "退款一到三个工作日到账。")])
    assert catalog.get_document("a").disabled, "a new version of a disabled document stays disabled"
    assert catalog.resolve(catalog.chunk_ids("a")) == {}
    assert catalog.set_disabled("a", False).disabled is False
    assert list(catalog.resolve(catalog.chunk_ids("a"))) == catalog.chunk_ids("a")
    assert catalog.set_disabled("nope", True) is None


def test_every_change_of_a_document_is_in_its_history_with_who_made_it(catalog):
    catalog.replace_document(doc("a", version="V1", source="a.md"), [chunk("a", 0, "甲。")], by="user:wang")
    catalog.replace_document(doc("a", version="V2", source="a.md"), [chunk("a", 0, "乙。"), chunk("a", 1, "丙。")],
                             by="key:k_1")
    catalog.set_disabled("a", True, by="user:li")
    catalog.set_disabled("a", True, by="user:li")  # no change: nothing recorded
    catalog.set_disabled("a", False, by="user:li")
    catalog.delete_document("a", by="user:wang")
    history = catalog.versions("a")
    assert [(v.action, v.version, v.chunk_count, v.by) for v in history] == [
        ("added", "V1", 1, "user:wang"), ("replaced", "V2", 2, "key:k_1"), ("disabled", "V2", 2, "user:li"),
        ("enabled", "V2", 2, "user:li"), ("deleted", "V2", 2, "user:wang")]
    assert all(v.kb == "kb1" and v.source == "a.md" and v.title == "标题 a" for v in history)
    assert history[0].at <= history[-1].at and history[0].id < history[-1].id
    catalog.replace_document(doc("b"), [chunk("b", 0, "丁。")])
    catalog.delete_kb("kb1", by="user:admin")
    assert [(v.action, v.by) for v in catalog.versions("b")] == [("added", ""), ("deleted", "user:admin")]
    assert catalog.versions("never") == []


def test_pages_filter_by_state_search_chinese_and_count_in_the_database(catalog):
    for n, title in enumerate(["电子发票开具规范", "退货退款服务规范", "Invoice FAQ"]):
        catalog.replace_document(doc(f"d{n}", title=title, source=f"d{n}.md"), [chunk(f"d{n}", 0, "内容。")])
    catalog.set_disabled("d1", True)
    assert [d.id for d, _ in catalog.page_documents("kb1", disabled=True).documents] == ["d1"]
    assert catalog.page_documents("kb1", disabled=False).total == 2
    assert [d.id for d, _ in catalog.page_documents("kb1", search="退款").documents] == ["d1"]
    assert catalog.page_documents("kb1", search="invoice").total == 1
    assert catalog.page_documents("kb1", search="退款", disabled=False).total == 0
    assert catalog.page_documents("kb1", search="d2.md").total == 1  # the file name


def test_ten_thousand_documents_page_and_count_quickly(catalog):
    from assistant.storage.sql.schema import documents

    now = datetime.now(timezone.utc)
    rows = [{"id": f"sop-{n:05d}", "kb": "kb1", "title": f"规范 {n}" + ("（发票）" if n % 100 == 0 else ""),
             "source": f"sop-{n}.pdf", "owner": "财务部", "tags": "[]", "content_hash": "", "chunk_count": 3,
             "updated_at": now - timedelta(seconds=n), "disabled": n % 10 == 0} for n in range(10_000)]
    with catalog.engine.begin() as conn:
        conn.execute(documents.insert(), rows)
    started = time.perf_counter()
    page = catalog.page_documents("kb1", offset=9_990, limit=50)
    found = catalog.page_documents("kb1", search="发票", disabled=True, limit=20)
    elapsed = time.perf_counter() - started
    assert page.total == 10_000 and len(page.documents) == 10 and page.documents[0][0].id == "sop-09990"
    assert found.total == 100 and len(found.documents) == 20
    assert elapsed < 1.0, f"two pages of 10,000 documents took {elapsed:.2f} s"


def test_a_document_s_chunks_come_a_page_at_a_time_in_reading_order(catalog):
    catalog.replace_document(doc("a"), [chunk("a", n, f"第{n}段。") for n in range(7)])
    page = catalog.page_chunks("a", offset=5, limit=5)
    assert page.total == 7 and [c.ordinal for c in page.chunks] == [5, 6]
    assert catalog.page_chunks("nope").total == 0


def test_resolve_names_who_curated_an_entry(catalog):
    catalog.replace_document(doc("faq-1", curated_by="王会计"), [chunk("faq-1", 0, "三到七个工作日。")])
    [live] = catalog.resolve(catalog.chunk_ids("faq-1")).values()
    assert live.curated_by == "王会计" and catalog.get_document("faq-1").curated_by == "王会计"
