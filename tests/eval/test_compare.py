"""Specification tests for eval.compare."""

from __future__ import annotations

from typing import Any

import pytest

from eval.compare import (
    CompareRow,
    check_fail_under,
    compare,
    flatten_metrics,
    parse_fail_under,
)


def _result(mode: str, ndcg: float | None, f1: float | None, p95: float = 500.0) -> dict[str, Any]:
    return {
        "dataset": "tiny",
        "mode": mode,
        "queries": 10,
        "retrieval": {"ndcg@10": ndcg, "recall@5": 0.5, "recall@20": 0.7, "recall@100": 0.9, "mrr@10": 0.4},
        "answer": {"contains": 0.6, "f1": f1},
        "citation": {"precision": None, "recall": None},
        "refusal": {"rate_on_impossible": 0.8, "false_refusal_rate": 0.1},
        "latency_ms": {"p50": 200.0, "p95": p95},
        "stage_latency_ms": {"retrieve": {"p50": 20.0, "p95": 40.0}},
        "counts": {"retrieval": 10},
    }


def test_flatten_uses_dotted_paths_and_skips_metadata() -> None:
    flat = flatten_metrics(_result("bm25", 0.5, 0.3))
    assert list(flat)[:2] == ["retrieval.ndcg@10", "retrieval.recall@5"]
    assert flat["stage_latency_ms.retrieve.p95"] == 40.0
    assert flat["citation.precision"] is None
    assert not any(k.startswith(("counts", "queries", "mode", "dataset")) for k in flat)


def test_compare_single_results_gives_b_minus_a() -> None:
    rows = compare(_result("hybrid", 0.50, 0.30), _result("hybrid", 0.62, 0.25))
    by_metric = {r.metric: r for r in rows}
    assert by_metric["retrieval.ndcg@10"].delta == pytest.approx(0.12)
    assert by_metric["answer.f1"].delta == pytest.approx(-0.05)
    assert by_metric["retrieval.ndcg@10"] == CompareRow("hybrid", "retrieval.ndcg@10", 0.50, 0.62, pytest.approx(0.12))


def test_compare_delta_is_none_when_a_side_is_null() -> None:
    rows = compare(_result("m", None, 0.3), _result("m", 0.5, 0.3))
    assert {r.metric: r.delta for r in rows}["retrieval.ndcg@10"] is None


def test_compare_lists_matches_modes_and_keeps_unmatched_modes() -> None:
    a = [_result("bm25", 0.4, None), _result("hybrid", 0.5, 0.3)]
    b = [_result("hybrid", 0.6, 0.35), _result("dense", 0.55, 0.2)]
    rows = compare(a, b)
    hybrid = {r.metric: r for r in rows if r.mode == "hybrid"}
    assert hybrid["retrieval.ndcg@10"].delta == pytest.approx(0.1)
    bm25 = {r.metric: r for r in rows if r.mode == "bm25"}
    assert bm25["retrieval.ndcg@10"].b is None and bm25["retrieval.ndcg@10"].delta is None
    assert [m for m in dict.fromkeys(r.mode for r in rows)] == ["bm25", "hybrid", "dense"]


def test_compare_two_different_single_modes_labels_both() -> None:
    rows = compare(_result("bm25", 0.4, None), _result("hybrid", 0.5, None))
    assert rows[0].mode == "bm25 -> hybrid"
    assert rows[0].delta == pytest.approx(0.1)


def test_parse_fail_under_resolves_bare_names_and_dotted_paths() -> None:
    assert parse_fail_under(["ndcg@10=0.6", "answer.f1=0.5", "contains = 0.7"]) == {
        "retrieval.ndcg@10": 0.6,
        "answer.f1": 0.5,
        "answer.contains": 0.7,
    }
    assert parse_fail_under(["stage_latency_ms.rerank.p95=300"]) == {"stage_latency_ms.rerank.p95": 300.0}


def test_parse_fail_under_rejects_ambiguous_name() -> None:
    known = flatten_metrics(_result("m", 0.5, 0.5))  # adds stage_latency_ms.retrieve.p50
    assert parse_fail_under(["p50=100"]) == {"latency_ms.p50": 100.0}  # unique among required paths
    with pytest.raises(ValueError, match="ambiguous metric 'p50'.*latency_ms.p50.*retrieve.p50"):
        parse_fail_under(["p50=100"], known=known)


def test_parse_fail_under_resolves_stage_names_from_a_result() -> None:
    known = flatten_metrics(_result("m", 0.5, 0.5))
    assert parse_fail_under(["retrieve.p95=50"], known=known) == {"stage_latency_ms.retrieve.p95": 50.0}


def test_parse_fail_under_rejects_unknown_name_listing_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown metric 'ndcg@7'.*retrieval.ndcg@10"):
        parse_fail_under(["ndcg@7=0.5"])


@pytest.mark.parametrize("spec", ["ndcg@10", "ndcg@10=", "ndcg@10=high", "=0.5"])
def test_parse_fail_under_rejects_malformed_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fail_under([spec])


def test_check_fail_under_passes_when_all_thresholds_met() -> None:
    thresholds = parse_fail_under(["ndcg@10=0.6", "f1=0.3"])
    assert check_fail_under(_result("hybrid", 0.6, 0.31), thresholds) == []


def test_check_fail_under_reports_metric_below_threshold() -> None:
    failures = check_fail_under(_result("hybrid", 0.55, 0.31), parse_fail_under(["ndcg@10=0.6", "f1=0.3"]))
    assert len(failures) == 1
    assert failures[0].metric == "retrieval.ndcg@10" and failures[0].value == 0.55
    assert "below the minimum 0.6" in str(failures[0]) and "[hybrid]" in str(failures[0])


def test_check_fail_under_null_metric_with_threshold_is_a_failure() -> None:
    failures = check_fail_under(_result("bm25", 0.7, None), {"answer.f1": 0.1})
    assert len(failures) == 1 and "null" in failures[0].message


def test_check_fail_under_treats_latency_threshold_as_a_ceiling() -> None:
    thresholds = parse_fail_under(["latency_ms.p95=1000", "false_refusal_rate=0.2"])
    assert check_fail_under(_result("m", 0.7, 0.5, p95=900.0), thresholds) == []
    failures = check_fail_under(_result("m", 0.7, 0.5, p95=1500.0), thresholds)
    assert [f.metric for f in failures] == ["latency_ms.p95"]
    assert "above the maximum" in failures[0].message


def test_check_fail_under_checks_every_mode_of_a_list() -> None:
    results = [_result("bm25", 0.4, 0.3), _result("hybrid", 0.7, 0.3)]
    failures = check_fail_under(results, {"retrieval.ndcg@10": 0.6})
    assert [f.mode for f in failures] == ["bm25"]


def test_check_fail_under_missing_stage_is_a_failure() -> None:
    failures = check_fail_under(_result("m", 0.7, 0.5), {"stage_latency_ms.rerank.p95": 100.0})
    assert len(failures) == 1 and "missing" in failures[0].message


def test_max_drop_flags_quality_that_got_worse_and_ignores_latency() -> None:
    from eval.compare import check_max_drop

    a = _result("hybrid", ndcg=0.80, f1=0.30)
    b = _result("hybrid", ndcg=0.794, f1=0.30)
    a["refusal"]["false_refusal_rate"], b["refusal"]["false_refusal_rate"] = 0.10, 0.11
    a["latency_ms"]["p95"], b["latency_ms"]["p95"] = 10.0, 90.0
    failures = check_max_drop(compare(a, b), 0.005)
    assert sorted(f.metric for f in failures) == ["refusal.false_refusal_rate", "retrieval.ndcg@10"]
    assert "went from 0.8 to 0.794" in str(next(f for f in failures if f.metric == "retrieval.ndcg@10"))
    assert check_max_drop(compare(a, b), 0.02) == []
    better = _result("hybrid", ndcg=0.9, f1=0.5)
    assert check_max_drop(compare(a, better), 0.0) == []
