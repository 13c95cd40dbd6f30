"""Specification tests for eval.dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import CorpusDoc, DatasetError, Query, load_dataset

SHARED = Path("/work/shared/eval")
REAL_SETS = ["scifact", "afqmc-faq", "cmrc2018", "squad2", "rgb-zh"]


def _write_set(root: Path, corpus: list[str], queries: list[str], qrels: list[str]) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    corpus = [
        json.dumps({"_id": "d1", "title": "开票", "text": "发票在24小时内开具。"}, ensure_ascii=False),
        "",
        json.dumps({"_id": "d2", "text": "No title here."}),
        json.dumps({"_id": 3, "title": "int id", "text": "x"}),
    ]
    queries = [
        json.dumps({"_id": "q1", "text": "多久开票？", "answers": ["24小时内"], "is_impossible": False}, ensure_ascii=False),
        json.dumps({"_id": "q2", "text": "No answers key"}),
        "   ",
        json.dumps({"_id": "q3", "text": "impossible", "answers": [], "is_impossible": True}),
        json.dumps({"_id": "q4", "text": "and the second?", "conversation": ["first question"]}),
    ]
    qrels = ["query-id\tcorpus-id\tscore", "q1\td1\t2", "q1\td2\t0", "", "q2\td2\t1", "q4\t3\t1"]
    return _write_set(tmp_path / "tiny-set", corpus, queries, qrels)


def test_loader_reads_corpus_queries_and_graded_qrels(tiny: Path) -> None:
    ds = load_dataset(tiny)
    assert ds.name == "tiny-set"
    assert ds.corpus == [
        CorpusDoc("d1", "开票", "发票在24小时内开具。"),
        CorpusDoc("d2", "", "No title here."),
        CorpusDoc("3", "int id", "x"),
    ]
    assert [q.id for q in ds.queries] == ["q1", "q2", "q3", "q4"]
    assert ds.queries[0] == Query("q1", "多久开票？", ["24小时内"], False, [])
    assert ds.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1}, "q4": {"3": 1}}


def test_loader_defaults_missing_answers_and_is_impossible(tiny: Path) -> None:
    q2 = load_dataset(tiny).query("q2")
    assert q2.answers == [] and q2.is_impossible is False and q2.conversation == []


def test_loader_keeps_impossible_flag_and_conversation(tiny: Path) -> None:
    ds = load_dataset(tiny)
    assert ds.query("q3").is_impossible is True
    assert ds.query("q4").conversation == ["first question"]


def test_qrels_score_zero_is_not_relevant(tiny: Path) -> None:
    assert "d2" not in load_dataset(tiny).qrels["q1"]


def test_limit_keeps_first_queries_and_their_qrels_only(tiny: Path) -> None:
    ds = load_dataset(tiny, limit=2)
    assert [q.id for q in ds.queries] == ["q1", "q2"]
    assert set(ds.qrels) == {"q1", "q2"}
    assert len(ds.corpus) == 3


def test_qrels_without_header_are_read(tmp_path: Path) -> None:
    root = _write_set(tmp_path / "s", ['{"_id": "d1", "text": "t"}'], ['{"_id": "q1", "text": "t"}'], ["q1\td1\t1"])
    assert load_dataset(root).qrels == {"q1": {"d1": 1}}


def test_malformed_json_error_names_file_and_line(tiny: Path) -> None:
    lines = (tiny / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"_id": "bad", "text": ')  # becomes line 3
    (tiny / "queries.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"queries\.jsonl:3: malformed JSON"):
        load_dataset(tiny)


def test_missing_id_error_names_file_and_line(tiny: Path) -> None:
    with (tiny / "corpus.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"title": "no id", "text": "x"}\n')
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:5: missing '_id'"):
        load_dataset(tiny)


def test_malformed_qrels_row_error_names_file_and_line(tiny: Path) -> None:
    with (tiny / "qrels" / "test.tsv").open("a", encoding="utf-8") as fh:
        fh.write("q2\td1\tvery\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:7: score 'very' is not a number"):
        load_dataset(tiny)


def test_missing_file_error_names_the_file(tiny: Path) -> None:
    (tiny / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match=r"test\.tsv: file not found"):
        load_dataset(tiny)


def test_missing_folder_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "absent")


def test_duplicate_query_id_is_rejected(tiny: Path) -> None:
    with (tiny / "queries.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"_id": "q1", "text": "again"}\n')
    with pytest.raises(DatasetError, match="duplicate query id 'q1'"):
        load_dataset(tiny)


@pytest.mark.parametrize("name", REAL_SETS)
def test_loader_reads_each_real_shared_set(name: str) -> None:
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    ds = load_dataset(folder)
    n_lines = sum(1 for line in (folder / "queries.jsonl").open(encoding="utf-8") if line.strip())
    assert ds.name == name
    assert len(ds.queries) == n_lines > 0
    assert len(ds.corpus) > 0 and ds.qrels
    doc_ids = {d.id for d in ds.corpus}
    query_ids = {q.id for q in ds.queries}
    assert set(ds.qrels) <= query_ids
    assert all(doc in doc_ids for docs in ds.qrels.values() for doc in docs)
    assert all(grade > 0 for docs in ds.qrels.values() for grade in docs.values())
    assert all(isinstance(a, str) for q in ds.queries for a in q.answers)
    assert not any(q.is_impossible and q.answers for q in ds.queries)


@pytest.mark.parametrize("name", REAL_SETS)
def test_loader_limit_on_real_set(name: str) -> None:
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    ds = load_dataset(folder, limit=5)
    assert len(ds.queries) == 5
    assert set(ds.qrels) <= {q.id for q in ds.queries}


def test_loader_reads_each_questions_category_and_counts_them(tmp_path: Path) -> None:
    root = _write_set(
        tmp_path / "hard",
        [json.dumps({"_id": "d1", "text": "x"})],
        [
            json.dumps({"_id": "q1", "text": "冰箱补贴多少", "category": "table_lookup"}, ensure_ascii=False),
            json.dumps({"_id": "q2", "text": "Can I change the address?", "category": "cross_lingual"}),
            json.dumps({"_id": "q3", "text": "no category"}),
            json.dumps({"_id": "q4", "text": "另一个表格问题", "category": "table_lookup"}, ensure_ascii=False),
        ],
        ["q1\td1\t1"],
    )
    ds = load_dataset(root)
    assert [q.category for q in ds.queries] == ["table_lookup", "cross_lingual", None, "table_lookup"]
    assert ds.categories == {"table_lookup": 2, "cross_lingual": 1, "(none)": 1}


def test_a_set_without_categories_has_none(tiny: Path) -> None:
    ds = load_dataset(tiny)
    assert all(q.category is None for q in ds.queries)
    assert ds.categories == {}
