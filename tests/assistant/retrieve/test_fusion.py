import pytest

from assistant.retrieve.fusion import cap_per_document, reciprocal_rank_fusion, score_fusion


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


def test_score_fusion_keeps_a_keyword_match_far_stronger_than_the_rest_ahead_of_close_near_duplicates():
    bm25 = [("rota", 34.8), ("faq-1", 12.7), ("faq-2", 12.5), ("faq-3", 12.0)]
    dense = [("faq-1", 0.53), ("faq-2", 0.52), ("faq-3", 0.52), ("rota", 0.50), ("other", 0.30)]
    assert [i for i, _ in score_fusion(bm25, dense)][0] == "rota"
    assert [i for i, _ in reciprocal_rank_fusion([[i for i, _ in bm25], [i for i, _ in dense]])][0] != "rota", (
        "rank-only fusion puts the near-duplicates first: what score fusion is for"
    )


def test_score_fusion_scores_the_head_the_same_however_many_candidates_were_asked_for():
    dense = [(f"c{i}", 0.9 - i * 0.01) for i in range(100)]
    assert score_fusion([], dense[:50], depth=50)[:10] == score_fusion([], dense, depth=50)[:10]


def test_one_document_cannot_fill_the_head_of_the_list():
    fused = [(f"faq-{i}", 1.0 - i / 100) for i in range(8)] + [("rota-1", 0.5), ("rota-2", 0.4)]
    doc_of = {f"faq-{i}": "faq" for i in range(8)} | {"rota-1": "rota", "rota-2": "rota"}
    capped = [i for i, _ in cap_per_document(fused, doc_of, per_document=2, head=4)]
    assert capped[:4] == ["faq-0", "faq-1", "rota-1", "rota-2"]
    assert sorted(capped) == sorted(i for i, _ in fused), "nothing is dropped, only moved down"


def test_an_uploaded_sop_is_not_buried_under_faq_entries(fresh_services, tmp_path):
    faq = tmp_path / "faq.csv"
    rows = ["question,answer"] + [f"客服第{i}种情况怎么申请？,在客服系统提交申请{i}，组长审批。" for i in range(30)]
    faq.write_text("\n".join(rows), encoding="utf-8")
    rota = tmp_path / "rota.md"
    rota.write_text("# 客服排班与调班管理规范\n## 二、调班规则\n客服调班须提前3个工作日在排班系统提交申请，经组长审批后生效。\n",
                    encoding="utf-8")
    ingestor = fresh_services.ingestor()
    assert [r.status for r in ingestor.ingest_files([faq, rota], "kb1")] == ["added", "added"]
    answer = fresh_services.pipeline("hybrid", rerank=False).ask("客服调班要提前多久申请", kb_ids=["kb1"])
    assert not answer.refused and "3个工作日" in answer.answer
    assert answer.citations[0].doc_id == "rota"
    assert answer.trace.stages["fused"][0].doc_id == "rota"
