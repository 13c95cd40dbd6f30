"""Answers that know when they don't know: the judgement, its model file, and what a refusal says."""

from __future__ import annotations

import random

import pytest

from assistant.answer.answerability import DEFAULT_MODEL, SIGNALS, AnswerabilityModel
from assistant.answer.refusal import nearest_topics, refusal_text


def test_the_shipped_model_reads_every_signal_and_has_a_threshold_per_language():
    model = AnswerabilityModel.load(DEFAULT_MODEL)
    assert set(model.weights) == set(SIGNALS)
    assert 0 < model.threshold("zh") < 1 and 0 < model.threshold("en") < 1
    assert model.trained_on, "the file says which development sets it was fitted on"


def test_a_passage_closer_in_meaning_never_makes_an_answer_less_likely():
    model = AnswerabilityModel.load(DEFAULT_MODEL)
    base = {name: 0.3 for name in SIGNALS} | {"english": 0.0, "cross_lingual": 0.0}
    probabilities = [model.probability(base | {"similarity": s}) for s in (0.2, 0.4, 0.6, 0.8)]
    assert probabilities == sorted(probabilities)


def test_fitting_learns_which_way_a_signal_points_and_a_model_round_trips(tmp_path):
    rng = random.Random(7)
    rows, labels = [], []
    for _ in range(400):
        answerable = rng.random() < 0.5
        rows.append({"similarity": rng.gauss(0.6 if answerable else 0.35, 0.1), "unknown": rng.random()})
        labels.append(int(answerable))
    model = AnswerabilityModel.fit(rows, labels, signals=("similarity", "unknown"))
    assert model.weights["similarity"] > 1.0 and abs(model.weights["unknown"]) < 0.5
    assert model.probability({"similarity": 0.7, "unknown": 0.5}) > 0.8 > 0.2 > model.probability({"similarity": 0.25, "unknown": 0.5})
    model.thresholds = {"zh": 0.4, "en": 0.6}
    model.save(tmp_path / "m.json")
    again = AnswerabilityModel.load(tmp_path / "m.json")
    assert again.probability({"similarity": 0.5, "unknown": 0.1}) == pytest.approx(model.probability({"similarity": 0.5, "unknown": 0.1}))
    assert again.threshold("en") == 0.6 and again.threshold("mixed") == 0.4


@pytest.mark.parametrize("question", ["iPhone 16 现在多少钱 还有货吗", "你们公司的股票代码是多少", "What is the stock code of your company?"])
def test_related_text_is_not_taken_for_an_answer(demo_services, question):
    answer = demo_services.default_pipeline.ask(question)
    assert answer.refused, answer.answer
    assert answer.trace.refusal == "weak_evidence" and answer.trace.evidence.probability is not None


def test_a_refusal_says_what_was_searched_and_what_came_closest(demo_services):
    answer = demo_services.default_pipeline.ask("iPhone 16 现在多少钱 还有货吗")
    assert answer.answer.startswith("抱歉，知识库里没有找到能回答这个问题的内容（已检索：")
    assert "客服知识库" in answer.answer and "财务知识库" in answer.answer
    assert "最接近的内容有：《" in answer.answer
    english = demo_services.default_pipeline.ask("What is the stock code of your company?")
    assert english.refused and english.answer.startswith("Sorry, I could not find anything")
    assert "searched:" in english.answer


def test_nearest_topics_name_each_document_once_with_its_section(demo_services):
    hits = demo_services.retriever().retrieve("退款多久到账", kb_ids=["support", "finance"], k=10).hits
    topics = nearest_topics(hits)
    assert len(topics) == len(set(t.split("》")[0] for t in topics)) <= 3
    assert all(t.startswith("《") for t in topics)
    assert refusal_text("en", ["support"], topics).endswith("ask a human colleague to confirm.")
