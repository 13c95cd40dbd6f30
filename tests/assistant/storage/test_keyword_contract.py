"""The ``KeywordIndex`` contract, on every engine: tantivy in a data directory, and PostgreSQL (marked
``services``: a database of this module's own, its keyword tables emptied before each test)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from assistant.domain import Chunk
from assistant.errors import ConfigError
from assistant.storage.keyword_pg import PostgresKeywordIndex
from assistant.storage.keyword_tantivy import TantivyKeywordIndex
from assistant.storage.sql.engine import make_engine, migrate, temporary_database
from assistant.text.tokenize import Tokenizer
from tests.assistant.storage.conftest import POSTGRES_URL, postgres_admin

KEYWORD_TABLES = "keyword_blocks, keyword_chunks, keyword_terms, keyword_kbs, keyword_meta"


def chunk(chunk_id: str, body: str, kb: str = "kb1", **fields) -> Chunk:
    return Chunk(id=chunk_id, doc_id=fields.pop("doc_id", chunk_id.split("-")[0]), kb=kb, ordinal=0, text=body, **fields)


CORPUS = [
    chunk("refund-1", "退款审核通过后三到七个工作日原路退回。", section="退货退款 > 退款时效"),
    chunk("refund-2", "Refunds are returned to the original payment method within 7 business days."),
    chunk("invoice-1", "电子发票在确认收货后24小时内开具，可在订单详情下载。", kb="finance"),
    chunk("invoice-2", "增值税专用发票需提供纳税人识别号，3个工作日内开具。", kb="finance"),
    chunk("phone-1", "iPhone 15 的保修期为一年，人为损坏不在保修范围内。", kb="support"),
    chunk("points-1", "会员积分可以抵扣运费，每100积分抵1元。", kb="support"),
]


@pytest.fixture(scope="module")
def postgres_engine():
    postgres_admin().dispose()  # fails the test, naming the server, when PostgreSQL is not there
    with temporary_database(POSTGRES_URL, "keyword_contract") as url:
        engine = make_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


def _tantivy(tmp_path: Path, bigrams: bool = True) -> TantivyKeywordIndex:
    return TantivyKeywordIndex(tmp_path / "keyword", Tokenizer(), bigrams=bigrams)


@pytest.fixture(params=["tantivy", pytest.param("postgres", marks=pytest.mark.services)])
def make_index(request, tmp_path):
    """Makes indexes over one empty store of the engine (two of them are two processes' views)."""
    if request.param == "tantivy":
        yield lambda bigrams=True: _tantivy(tmp_path, bigrams)
        return
    engine = request.getfixturevalue("postgres_engine")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {KEYWORD_TABLES} RESTART IDENTITY"))
    yield lambda bigrams=True: PostgresKeywordIndex(engine, Tokenizer(), bigrams=bigrams)


@pytest.fixture
def index(make_index):
    index = make_index()
    index.rebuild([])
    return index


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [chunk_id for chunk_id, _ in hits]


def search(index, question: str, kb_ids=None, k: int = 10) -> list[tuple[str, float]]:
    return index.search(index.query_terms(question), kb_ids, k)


def test_search_finds_the_matching_chunks_best_first_and_at_most_k(index):
    index.apply(add=CORPUS)
    hits = search(index, "退款多久到账", k=2)
    assert ids(hits)[0] == "refund-1" and len(hits) <= 2
    scores = [score for _, score in search(index, "发票 开具 工作日")]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert search(index, "zebra quokka") == [] and index.search([], None, 10) == []


def test_chinese_and_english_questions_meet_their_chunks_with_english_lightly_stemmed(index):
    index.apply(add=CORPUS)
    assert ids(search(index, "refund payment"))[0] == "refund-2"
    assert "refund-2" in ids(search(index, "how are refunds returned"))
    mixed = ids(search(index, "iPhone 15 保修多久"))
    assert mixed[0] == "phone-1"


def test_full_width_letters_and_digits_meet_their_half_width_forms(index):
    index.apply(add=CORPUS)
    assert ids(search(index, "ｉＰｈｏｎｅ　１５ 保修"))[0] == "phone-1"
    assert ids(search(index, "ＲＥＦＵＮＤＳ"))[0] == "refund-2"


def test_a_one_character_word_meets_the_compounds_it_is_part_of(index):
    index.apply(add=CORPUS)
    assert "refund-1" in ids(search(index, "怎么退"))


def test_the_heading_path_is_searchable_with_the_text(index):
    index.apply(add=CORPUS)
    assert ids(search(index, "退款时效"))[0] == "refund-1"


def test_search_keeps_to_the_knowledge_bases_asked_and_none_means_all(index):
    index.apply(add=CORPUS)
    assert set(ids(search(index, "发票 保修 退款"))) >= {"invoice-1", "phone-1", "refund-1"}
    assert set(ids(search(index, "发票 保修 退款", ["finance"]))) == {"invoice-1", "invoice-2"}
    assert set(ids(search(index, "发票 保修 退款", ["finance", "support"]))) <= {"invoice-1", "invoice-2", "phone-1", "points-1"}
    assert search(index, "发票", ["no-such-kb"]) == []


def test_adding_an_id_that_is_present_replaces_it(index):
    index.apply(add=CORPUS)
    index.apply(add=[chunk("refund-1", "退货需在签收后七天内申请。")])
    assert index.count() == len(CORPUS)
    assert "refund-1" not in ids(search(index, "原路退回"))
    assert ids(search(index, "签收后七天内"))[0] == "refund-1"


def test_apply_removes_and_adds_in_one_step_and_removing_an_absent_id_is_a_no_op(index):
    index.apply(add=CORPUS)
    index.apply(add=[chunk("refund-3", "退款三到五个工作日到账。")], remove_ids=["refund-1", "never-added"])
    assert index.count() == len(CORPUS)
    assert ids(search(index, "退款 工作日", ["kb1"])) == ["refund-3"]
    index.apply(remove_ids=["never-added"])
    assert index.count() == len(CORPUS)


def test_a_chunk_without_words_is_counted_and_removed_like_any_other(index):
    index.apply(add=[chunk("blank-1", "。。。"), chunk("refund-1", "原路退回。")])
    assert index.count() == 2 and ids(search(index, "原路退回")) == ["refund-1"]
    index.apply(remove_ids=["blank-1"])
    assert index.count() == 1 and index.ids_by_kb() == {"kb1": {"refund-1"}}


def test_a_failed_apply_changes_nothing(index):
    index.apply(add=CORPUS)
    unreadable = Chunk.model_construct(id="bad-1", doc_id="bad", kb="kb1", ordinal=0, text=7, section="")
    with pytest.raises(TypeError):
        index.apply(add=[chunk("refund-9", "退款新规则。"), unreadable], remove_ids=["refund-1"])
    assert index.count() == len(CORPUS)
    assert ids(search(index, "原路退回"))[0] == "refund-1"
    assert "refund-9" not in ids(search(index, "退款新规则"))


def test_delete_kb_removes_only_that_knowledge_base(index):
    index.apply(add=CORPUS)
    index.delete_kb("finance")
    index.delete_kb("never-made")
    assert search(index, "发票") == [] and index.count() == len(CORPUS) - 2
    assert set(index.ids_by_kb()) == {"kb1", "support"}
    assert ids(search(index, "积分 抵扣"))[0] == "points-1"


def test_ids_by_kb_and_count_list_every_indexed_chunk(index):
    assert index.count() == 0 and index.ids_by_kb() == {}
    index.apply(add=CORPUS)
    assert index.count() == len(CORPUS)
    assert index.ids_by_kb() == {
        "kb1": {"refund-1", "refund-2"}, "finance": {"invoice-1", "invoice-2"}, "support": {"phone-1", "points-1"},
    }


def test_doc_freq_counts_chunks_holding_each_term_as_analysed(index):
    index.apply(add=CORPUS)
    counts = index.doc_freq(["发票", "#发票", "@票", "工作日", "refund", "never-seen"])
    assert counts == {"发票": 2, "#发票": 2, "@票": 2, "工作日": 2, "refund": 1, "never-seen": 0}


def test_idf_falls_as_more_chunks_hold_a_term_and_unknown_terms_get_the_most(index):
    index.apply(add=CORPUS)
    idf = index.idf(["工作日", "纳税人", "never-seen"])
    assert idf["never-seen"] > idf["纳税人"] > idf["工作日"] > 0


def test_rebuild_replaces_everything_and_records_the_analysis(make_index):
    index = make_index()
    assert index.needs_rebuild()
    index.apply(add=CORPUS)
    assert index.rebuild(iter(CORPUS[:3])) == 3
    assert index.count() == 3 and not index.needs_rebuild()
    assert search(index, "积分") == [] and ids(search(index, "原路退回"))[0] == "refund-1"
    assert make_index(bigrams=False).needs_rebuild(), "another analysis must be rebuilt"


@pytest.mark.services
def test_postgres_counts_are_exact_after_removals(postgres_engine):
    with postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {KEYWORD_TABLES} RESTART IDENTITY"))
    index = PostgresKeywordIndex(postgres_engine, Tokenizer(), bigrams=True)
    index.apply(add=CORPUS)
    index.apply(remove_ids=["invoice-1"])
    assert index.doc_freq(["发票", "#发票", "订单"]) == {"发票": 1, "#发票": 1, "订单": 0}
    index.apply(add=[chunk("invoice-1", "发票")], remove_ids=["invoice-2"])
    assert index.doc_freq(["发票", "纳税人"]) == {"发票": 1, "纳税人": 0}


@pytest.mark.services
def test_postgres_undoes_a_write_the_database_refuses(postgres_engine):
    with postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {KEYWORD_TABLES} RESTART IDENTITY"))
    index = PostgresKeywordIndex(postgres_engine, Tokenizer(), bigrams=True)
    index.apply(add=CORPUS)
    before = (index.count(), index.doc_freq(["退款", "#退款"]), index.ids_by_kb())
    too_long = chunk("x" * 65, "退款说明。")  # chunk ids are at most 64 characters: refused after the removal ran
    with pytest.raises(DBAPIError):
        index.apply(add=[too_long], remove_ids=["refund-1"])
    assert (index.count(), index.doc_freq(["退款", "#退款"]), index.ids_by_kb()) == before
    assert ids(search(index, "原路退回"))[0] == "refund-1"


def test_postgres_index_refuses_a_database_that_is_not_postgresql(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="ASSISTANT_STORAGE__KEYWORD=tantivy"):
        PostgresKeywordIndex(engine, Tokenizer())


@pytest.mark.services
def test_both_engines_rank_alike(tmp_path, postgres_engine):
    with postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {KEYWORD_TABLES} RESTART IDENTITY"))
    tokenizer = Tokenizer()
    engines = [_tantivy(tmp_path), PostgresKeywordIndex(postgres_engine, tokenizer, bigrams=True)]
    for index in engines:
        index.apply(add=CORPUS)
    for question in ("退款多久到账", "发票 工作日 开具", "iPhone 保修 refund", "积分"):
        tantivy_hits, pg_hits = (search(index, question) for index in engines)
        assert ids(tantivy_hits) == ids(pg_hits)
        assert [round(s, 3) for _, s in tantivy_hits] == [round(s, 3) for _, s in pg_hits]


@pytest.mark.services
def test_two_processes_over_one_database_see_each_other_s_writes_at_once(postgres_engine):
    with postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {KEYWORD_TABLES} RESTART IDENTITY"))
    other_engine = make_engine(postgres_engine.url.render_as_string(hide_password=False))
    one = PostgresKeywordIndex(postgres_engine, Tokenizer(), bigrams=True)
    two = PostgresKeywordIndex(other_engine, Tokenizer(), bigrams=True)
    try:
        one.apply(add=CORPUS[:3])
        assert ids(search(two, "原路退回"))[0] == "refund-1" and two.count() == 3
        two.apply(remove_ids=["refund-1"], add=CORPUS[3:])
        assert "refund-1" not in ids(search(one, "原路退回")) and one.count() == len(CORPUS) - 1
        assert one.doc_freq(["发票"]) == two.doc_freq(["发票"]) == {"发票": 2}

        # Writers of both take turns: every chunk of both lands, the counts agree with the chunks.
        def write(index, prefix: str) -> None:
            for n in range(10):
                index.apply(add=[chunk(f"{prefix}{n}-1", f"批量写入第{n}条，退款规则。")])

        threads = [threading.Thread(target=write, args=(one, "a")), threading.Thread(target=write, args=(two, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert one.count() == two.count() == len(CORPUS) - 1 + 20
        assert one.doc_freq(["批量"]) == {"批量": 20}
    finally:
        other_engine.dispose()


def test_tantivy_stays_writable_after_a_writer_died_inside_a_commit(tmp_path):
    """kill -9 between writing a deletion file and naming it in meta.json leaves that file behind;
    the next writer's deletion gets the same name. Found by the crash test in CI."""
    index = _tantivy(tmp_path)
    index.apply(add=CORPUS)
    folder = tmp_path / "keyword"
    meta = json.loads((folder / "meta.json").read_text())
    segment = meta["segments"][0]["segment_id"].replace("-", "")
    leftover = f"{segment}.{meta['opstamp'] + 1}.del"  # what the dead writer's next deletion was named
    (folder / leftover).write_bytes(b"half written")
    managed = json.loads((folder / ".managed.json").read_text())
    (folder / ".managed.json").write_text(json.dumps([*managed, leftover]))  # tantivy names a file before writing it

    reopened = _tantivy(tmp_path)
    reopened.apply(remove_ids=["refund-1"])
    assert reopened.count() == len(CORPUS) - 1
    assert "refund-1" not in ids(search(reopened, "原路退回"))
