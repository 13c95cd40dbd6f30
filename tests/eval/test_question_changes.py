"""Specification tests for eval.question_changes: which questions changed from run A to run B."""

from __future__ import annotations

import re

import pytest

from eval.question_changes import (
    FOUND_GOLD,
    LOST_GOLD,
    NOW_ANSWERED,
    NOW_REFUSED,
    TOP_DOC,
    question_changes,
    render,
)
from eval.runfile import QuestionRow, RunFile


def row(qid: str, *, refused=False, contains: bool | None = True, top="d1", category=None, answer="") -> QuestionRow:
    return QuestionRow(
        id=qid, text=f"question {qid}", category=category, retrieved=[top, "d9"], relevant=["d1"],
        answer=answer or ("抱歉，没有找到" if refused else f"answer of {qid}"), refused=refused,
        refusal="weak_evidence" if refused else None, contains=None if contains is None else (contains and not refused),
        gold_answers=["24小时内"],
    )


def run_of(rows: list[QuestionRow], mode: str = "hybrid") -> RunFile:
    return RunFile(results=[{"dataset": "tiny", "mode": mode}], rows={mode: rows})


def test_each_way_a_question_can_change_is_named_and_counted():
    a = run_of([row("same"), row("refused-now"), row("answered-now", refused=True), row("lost", category="table"),
                row("found", contains=False), row("moved")])
    b = run_of([row("same"), row("refused-now", refused=True), row("answered-now"), row("lost", contains=False,
                category="table"), row("found"), row("moved", top="d7")])
    (mode,) = question_changes(a, b)
    kinds = {c.a.id: c.kinds for c in mode.changes}
    assert "same" not in kinds
    assert kinds == {
        "refused-now": (NOW_REFUSED, LOST_GOLD),
        "answered-now": (NOW_ANSWERED, FOUND_GOLD),
        "lost": (LOST_GOLD,),
        "found": (FOUND_GOLD,),
        "moved": (TOP_DOC,),
    }
    assert mode.compared == 6
    assert mode.counts() == {NOW_REFUSED: 1, NOW_ANSWERED: 1, LOST_GOLD: 2, FOUND_GOLD: 2, TOP_DOC: 1}
    assert mode.by_category() == {"(none)": 4, "table": 1}


def test_questions_without_a_gold_answer_are_not_judged_on_it():
    (mode,) = question_changes(run_of([row("q", contains=None)]), run_of([row("q", contains=None, answer="other")]))
    assert mode.changes == []


def test_runs_of_several_modes_are_matched_mode_by_mode_and_questions_by_id():
    a = RunFile(results=[{"mode": "bm25"}, {"mode": "hybrid"}],
                rows={"bm25": [row("q1"), row("q2")], "hybrid": [row("q1")]})
    b = RunFile(results=[{"mode": "hybrid"}, {"mode": "bm25"}],
                rows={"hybrid": [row("q1", refused=True)], "bm25": [row("q2"), row("q3")]})
    bm25, hybrid = question_changes(a, b)
    assert (bm25.mode, bm25.compared, bm25.changes, bm25.only_in_a, bm25.only_in_b) == ("bm25", 1, [], ["q1"], ["q3"])
    assert hybrid.mode == "hybrid" and [c.a.id for c in hybrid.changes] == ["q1"]


def test_two_single_mode_runs_are_compared_with_each_other():
    (mode,) = question_changes(run_of([row("q")], "bm25"), run_of([row("q", top="d2")], "hybrid"))
    assert mode.mode == "bm25 -> hybrid" and mode.changes[0].kinds == (TOP_DOC,)


def test_a_run_without_rows_cannot_be_compared_question_by_question():
    old = RunFile(results=[{"mode": "hybrid"}])
    with pytest.raises(ValueError, match="run A has no per-question rows"):
        question_changes(old, run_of([row("q")]))


def test_the_text_gives_counts_then_each_changed_question_with_what_changed():
    a = run_of([row("q1", category="table_lookup"), row("q2"), row("q3")])
    b = run_of([row("q1", refused=True, category="table_lookup"), row("q2", top="d5"), row("q3")])
    text = render(question_changes(a, b))
    assert text.startswith("hybrid: 3 questions in both runs, 2 changed\n")
    assert re.search(r"\n  answered -> refused +1\n", text) and re.search(r"\n  top document changed +1\n", text)
    assert re.search(r"\n  refused -> answered +0\n", text)
    assert "by category: table_lookup 1, (none) 1" in text
    assert "  q1 [table_lookup]  question q1\n      answered -> refused (weak_evidence)\n" in text
    assert "      A: answer of q1\n      B: 抱歉，没有找到\n" in text
    assert "top document: d1 (relevant) -> d5" in text
    assert "q3" not in text


def test_the_text_says_when_nothing_changed():
    assert render(question_changes(run_of([row("q")]), run_of([row("q")]))).startswith(
        "hybrid: 1 question in both runs, none changed")
