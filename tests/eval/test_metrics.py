"""Specification tests for eval.metrics (values computed by hand)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval.dataset import CorpusDoc, Dataset, Query
from eval.metrics import (
    QueryRecord,
    aggregate,
    citation_precision,
    citation_recall,
    contains,
    f1,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    refusal_rates,
)

# ---------------------------------------------------------------- retrieval


def test_ndcg_with_relevant_docs_at_ranks_one_and_three_of_two_relevant() -> None:
    qrels = {"d1": 1, "d3": 1}
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["d1", "x", "d3", "y"], qrels, 10) == pytest.approx(expected)


def test_ndcg_rewards_relevant_doc_at_rank_one_over_rank_three() -> None:
    qrels = {"gold": 1}
    assert ndcg_at_k(["gold", "a", "b"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "b", "gold"], qrels, 10) == pytest.approx(1 / math.log2(4))


def test_ndcg_uses_graded_gains_and_ideal_order_from_qrels() -> None:
    qrels = {"high": 2, "low": 1}
    # retrieved in the wrong order: low at rank 1, high at rank 2
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["low", "high"], qrels, 10) == pytest.approx(dcg / idcg)


def test_ndcg_ideal_counts_relevant_docs_not_retrieved() -> None:
    qrels = {"a": 1, "b": 1, "c": 1}
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["a"], qrels, 10) == pytest.approx(1 / idcg)


def test_ndcg_cutoff_ignores_relevant_doc_below_k() -> None:
    assert ndcg_at_k(["a", "b", "gold"], {"gold": 1}, 2) == 0.0


def test_duplicate_doc_ids_count_once_at_their_first_rank() -> None:
    # chunks of the same doc: "d1" twice must not take rank 2 away from "d2" nor count twice
    qrels = {"d1": 1, "d2": 1}
    assert ndcg_at_k(["d1", "d1", "d2"], qrels, 10) == pytest.approx(1.0)
    assert recall_at_k(["d1", "d1", "d1", "d2"], qrels, 2) == pytest.approx(1.0)


def test_zero_grade_in_qrels_is_not_relevant() -> None:
    qrels = {"d1": 1, "d0": 0}
    assert recall_at_k(["d1"], qrels, 5) == pytest.approx(1.0)
    assert mrr_at_k(["d0", "d1"], qrels, 10) == pytest.approx(0.5)


def test_recall_is_relevant_in_top_k_over_number_relevant() -> None:
    qrels = {"a": 1, "b": 1, "c": 1, "d": 1}
    ranking = ["a", "x", "b", "y", "z", "c"]
    assert recall_at_k(ranking, qrels, 5) == pytest.approx(2 / 4)
    assert recall_at_k(ranking, qrels, 6) == pytest.approx(3 / 4)


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k() -> None:
    qrels = {"gold": 1, "gold2": 1}
    assert mrr_at_k(["x", "y", "gold", "gold2"], qrels, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "gold"], qrels, 2) == 0.0


def test_retrieval_metrics_reject_non_positive_k() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {"a": 1}, 0)


# ---------------------------------------------------------------- answers


def test_normalize_answer_folds_full_width_case_punctuation_spaces_and_articles() -> None:
    assert normalize_answer("ＡＢＣ，　The  Cat！") == "abccat"
    assert normalize_answer("《红楼梦》。") == "红楼梦"
    assert normalize_answer("A股") == "a股"  # a standalone article only


def test_contains_matches_despite_full_width_punctuation_and_case() -> None:
    assert contains("答：请在２４小时内完成。", ["24小时内"])
    assert contains("It is in FRANCE, I think.", ["france"])
    assert contains("The answer is the Eiffel Tower!", ["eiffel tower"])


def test_contains_is_false_when_no_gold_appears() -> None:
    assert not contains("请在48小时内完成", ["24小时内"])
    assert not contains("anything", [])
    assert not contains("anything", ["。"])  # a gold that normalises to nothing never matches


def test_chinese_f1_is_character_level_with_numbers_kept_whole() -> None:
    # pred tokens: 24 小 时 内 开 具 (6); gold tokens: 24 小 时 内 (4); common 4
    precision, recall = 4 / 6, 4 / 4
    expected = 2 * precision * recall / (precision + recall)  # = 0.8
    assert f1("24小时内开具", ["24小时内"]) == pytest.approx(expected)
    assert expected == pytest.approx(0.8)


def test_chinese_f1_counts_repeated_characters_by_multiplicity() -> None:
    # pred 哈哈哈 vs gold 哈: common = min(3, 1) = 1; P = 1/3, R = 1
    assert f1("哈哈哈", ["哈"]) == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))


def test_english_f1_is_token_level_with_articles_dropped() -> None:
    # pred tokens: eiffel tower in paris (4); gold: eiffel tower (2); common 2
    precision, recall = 2 / 4, 2 / 2
    assert f1("The Eiffel Tower in Paris.", ["the Eiffel tower"]) == pytest.approx(
        2 * precision * recall / (precision + recall)
    )


def test_f1_takes_the_best_gold() -> None:
    assert f1("Denver Broncos", ["Carolina Panthers", "Denver Broncos"]) == pytest.approx(1.0)


def test_f1_mixed_text_splits_cjk_chars_and_keeps_latin_words() -> None:
    # pred: iphone 手 机 (3), gold: iphone 15 (2); common 1 -> P 1/3, R 1/2
    precision, recall = 1 / 3, 1 / 2
    assert f1("iPhone手机", ["iPhone 15"]) == pytest.approx(2 * precision * recall / (precision + recall))


def test_f1_is_zero_without_overlap_or_gold() -> None:
    assert f1("北京", ["上海"]) == 0.0
    assert f1("北京", []) == 0.0


# ---------------------------------------------------------------- citations, refusal, latency


def test_citation_precision_is_share_of_cited_docs_that_are_relevant() -> None:
    assert citation_precision(["a", "b", "a"], {"a", "c"}) == pytest.approx(1 / 2)
    assert citation_precision(["a", "b"], {"a": 1, "b": 0}) == pytest.approx(1 / 2)


def test_citation_precision_is_none_without_citations() -> None:
    assert citation_precision([], {"a"}) is None


def test_citation_recall_is_share_of_relevant_docs_cited_and_none_without_relevant() -> None:
    assert citation_recall(["a", "x"], {"a", "b", "c"}) == pytest.approx(1 / 3)
    assert citation_recall(["a"], set()) is None


def test_refusal_rates_split_impossible_and_answerable_queries() -> None:
    outcomes = [(True, True), (True, False), (True, True), (False, True), (False, False), (False, False), (False, False)]
    rate, false_rate = refusal_rates(outcomes)
    assert rate == pytest.approx(2 / 3)
    assert false_rate == pytest.approx(1 / 4)


def test_refusal_rates_are_none_when_denominator_is_zero() -> None:
    assert refusal_rates([(False, True)]) == (None, 1.0)
    assert refusal_rates([(True, False)]) == (0.0, None)


@pytest.mark.parametrize("p", [0, 10, 50, 95, 99, 100])
def test_percentile_matches_numpy_linear_interpolation(p: float) -> None:
    values = [120.0, 3.5, 40.0, 41.0, 7.0, 1000.0, 2.0]
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_percentile_interpolates_between_neighbours() -> None:
    # positions 0..3; p95 -> 2.85 -> 30 + 0.85 * (40 - 30)
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)


def test_percentile_rejects_empty_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


# ---------------------------------------------------------------- aggregate


def _dataset() -> Dataset:
    return Dataset(
        name="tiny",
        corpus=[CorpusDoc("d1", "", "x"), CorpusDoc("d2", "", "y"), CorpusDoc("d3", "", "z")],
        queries=[
            Query("q1", "When?", ["24小时内"]),
            Query("q2", "Where?", ["Paris"]),
            Query("q3", "Impossible?", [], is_impossible=True),
            Query("q4", "Claim only", []),
        ],
        qrels={"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q4": {"d3": 1}},
    )


def _records() -> list[QueryRecord]:
    return [
        QueryRecord("q1", ["d1", "d2"], "请在24小时内开具", False, ["d1"], 100.0, {"retrieve": 10.0, "generate": 90.0}),
        QueryRecord("q2", ["d3", "d1", "d2"], "", True, [], 200.0, {"retrieve": 20.0}),
        QueryRecord("q3", ["d2"], "", True, [], 300.0, {"retrieve": 30.0}),
        QueryRecord("q4", ["d2"], "Claim text", False, ["d2", "d3"], 400.0, {"retrieve": 40.0}),
    ]


REQUIRED_SHAPE = {
    "dataset": None,
    "mode": None,
    "queries": None,
    "retrieval": {"ndcg@10", "recall@5", "recall@20", "recall@100", "mrr@10"},
    "answer": {"contains", "f1"},
    "citation": {"precision", "recall"},
    "refusal": {"rate_on_impossible", "false_refusal_rate"},
    "latency_ms": {"p50", "p95"},
}


def test_aggregate_returns_exactly_the_required_keys_and_is_json_serialisable() -> None:
    result = aggregate(_records(), _dataset(), "hybrid")
    assert set(REQUIRED_SHAPE) <= set(result)
    for key, sub in REQUIRED_SHAPE.items():
        if sub is not None:
            assert set(result[key]) == sub, key
    assert set(result) - set(REQUIRED_SHAPE) <= {"stage_latency_ms", "counts"}
    json.dumps(result)
    assert (result["dataset"], result["mode"], result["queries"]) == ("tiny", "hybrid", 4)


def test_aggregate_averages_each_metric_over_its_applicable_queries() -> None:
    r = aggregate(_records(), _dataset(), "hybrid")
    # retrieval over q1, q2, q4 (q3 has no qrels)
    ndcg_q2 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg_q4 = 0.0
    assert r["retrieval"]["ndcg@10"] == pytest.approx((1.0 + ndcg_q2 + ndcg_q4) / 3)
    assert r["retrieval"]["mrr@10"] == pytest.approx((1 + 1 + 0) / 3)
    assert r["retrieval"]["recall@5"] == pytest.approx((1 + 1 + 0) / 3)
    # answers over q1, q2 (gold answers, answerable); q2 refused -> 0
    assert r["answer"]["contains"] == pytest.approx(0.5)
    # q1: pred 请 在 24 小 时 内 开 具 (8) vs gold 24 小 时 内 (4): P 4/8, R 1 -> F1 2/3
    assert r["answer"]["f1"] == pytest.approx((2 / 3 + 0) / 2)
    # citation precision over answered, citing, judged: q1 (1/1), q4 (1/2)
    assert r["citation"]["precision"] == pytest.approx((1 + 0.5) / 2)
    # citation recall over answered, judged: q1 (1/1), q4 (1/1)
    assert r["citation"]["recall"] == pytest.approx(1.0)
    # refusal: q3 impossible & refused; answerable q1, q2, q4 with q2 refused
    assert r["refusal"] == {"rate_on_impossible": 1.0, "false_refusal_rate": pytest.approx(1 / 3)}
    assert r["latency_ms"]["p50"] == pytest.approx(250.0)
    assert r["latency_ms"]["p95"] == pytest.approx(300 + 0.85 * 100)
    assert r["stage_latency_ms"]["generate"] == {"p50": 90.0, "p95": 90.0}
    assert r["stage_latency_ms"]["retrieve"]["p50"] == pytest.approx(25.0)


def test_aggregate_sets_answer_metrics_to_null_for_retrieval_only_run() -> None:
    records = [QueryRecord(r.query_id, r.ranked_doc_ids, latency_ms=r.latency_ms) for r in _records()]
    result = aggregate(records, _dataset(), "bm25")
    assert result["retrieval"]["ndcg@10"] is not None
    assert result["answer"] == {"contains": None, "f1": None}
    assert result["citation"] == {"precision": None, "recall": None}
    assert result["refusal"] == {"rate_on_impossible": None, "false_refusal_rate": None}


def test_aggregate_sets_retrieval_to_null_without_qrels() -> None:
    ds = _dataset()
    ds.qrels = {}
    result = aggregate(_records(), ds, "hybrid")
    assert all(v is None for v in result["retrieval"].values())
    assert result["citation"]["recall"] is None


def test_aggregate_of_no_records_is_all_null() -> None:
    result = aggregate([], _dataset(), "hybrid")
    assert result["queries"] == 0
    assert result["latency_ms"] == {"p50": None, "p95": None}
    assert result["answer"]["f1"] is None


def test_aggregate_rejects_records_of_unknown_queries() -> None:
    with pytest.raises(ValueError, match="nope"):
        aggregate([QueryRecord("nope")], _dataset(), "hybrid")


def test_aggregate_gives_the_main_figures_of_each_category() -> None:
    ds = _dataset()
    categories = {"q1": "table_lookup", "q2": "table_lookup", "q3": "unanswerable_related", "q4": None}
    ds.queries = [Query(q.id, q.text, q.answers, q.is_impossible, category=categories[q.id]) for q in ds.queries]
    result = aggregate(_records(), ds, "hybrid")
    assert list(result["categories"]) == ["table_lookup", "unanswerable_related", "(none)"]
    table = result["categories"]["table_lookup"]
    ndcg_q2 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert table["queries"] == 2
    assert table["ndcg@10"] == pytest.approx((1.0 + ndcg_q2) / 2)
    assert table["contains"] == pytest.approx(0.5)  # q1 holds its gold, q2 was refused
    assert table["false_refusal_rate"] == pytest.approx(0.5) and table["rate_on_impossible"] is None
    unanswerable = result["categories"]["unanswerable_related"]
    assert unanswerable == {"queries": 1, "ndcg@10": None, "contains": None,
                            "rate_on_impossible": 1.0, "false_refusal_rate": None}
    json.dumps(result)


def test_aggregate_of_a_set_without_categories_has_no_category_figures() -> None:
    assert "categories" not in aggregate(_records(), _dataset(), "hybrid")
