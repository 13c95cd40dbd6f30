import pytest

from assistant.retrieve.fusion import reciprocal_rank_fusion


def test_rrf_scores_are_the_sum_of_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_rrf_ranks_an_item_found_by_both_lists_above_a_single_first_place():
    order = [item for item, _ in reciprocal_rank_fusion([["x", "both"], ["y", "both"]], k=60)]
    assert order[0] == "both"


def test_rrf_weights_tilt_the_order_toward_the_heavier_list():
    lists = [["kw"], ["vec"]]
    assert reciprocal_rank_fusion(lists, weights=[2.0, 1.0])[0][0] == "kw"
    assert reciprocal_rank_fusion(lists, weights=[1.0, 2.0])[0][0] == "vec"


def test_rrf_rejects_a_weight_count_that_does_not_match():
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
