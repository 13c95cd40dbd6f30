"""Specification tests for eval.runfile: the run file's shape, and run files of every format loading."""

from __future__ import annotations

import json

import pytest

from eval.runfile import (
    DatasetInfo,
    QuestionRow,
    RunFile,
    RunFileError,
    RunMeta,
    load_run,
)


def _result(mode: str) -> dict:
    return {"dataset": "tiny", "mode": mode, "queries": 1, "retrieval": {"ndcg@10": 0.5}, "answer": {"contains": 1.0}}


def test_a_run_file_of_one_mode_written_before_rows_were_kept_still_loads(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_result("hybrid")), encoding="utf-8")
    run = load_run(path)
    assert run.results == [_result("hybrid")] and run.rows == {} and run.meta is None
    assert run.summary == _result("hybrid")  # compared as one mode, as before


def test_a_run_file_of_all_modes_written_before_rows_were_kept_still_loads(tmp_path):
    path = tmp_path / "old-all.json"
    path.write_text(json.dumps([_result("bm25"), _result("hybrid")]), encoding="utf-8")
    run = load_run(path)
    assert [r["mode"] for r in run.results] == ["bm25", "hybrid"] and run.rows == {}
    assert run.summary == [_result("bm25"), _result("hybrid")]


def test_a_run_file_reads_one_question_per_line_and_loads_back(tmp_path):
    rows = [QuestionRow(id="q1", text="多久开票？", category="faq", retrieved=["d1"], answer="24小时内[1]", contains=True),
            QuestionRow(id="q2", text="二手车？", refused=True, refusal="weak_evidence")]
    meta = RunMeta(date="2025-01-01T00:00:00+00:00", dataset=DatasetInfo(name="tiny", queries=2))
    path = RunFile(meta=meta, results=[_result("hybrid")], rows={"hybrid": rows}).write(tmp_path / "new.json")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert sum('"id":"q1"' in line for line in lines) == 1 and any("多久开票" in line for line in lines)
    run = load_run(path)
    assert run.format == 2 and run.rows["hybrid"] == rows and run.meta == meta


@pytest.mark.parametrize("text", ["not json", '{"nothing": "here"}', "[1, 2]", "[]"])
def test_a_file_that_is_not_a_run_file_is_an_error_naming_it(tmp_path, text):
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RunFileError, match="odd.json"):
        load_run(path)
