"""`assistant eval` read through a pipe (as in CI logs, `| less`, `> notes.txt`): every cell whole."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from eval.runfile import QuestionRow, RunFile, load_run
from eval.tables import SUMMARY


def eval_cli(*args: str) -> subprocess.CompletedProcess:
    """The CLI with stdout a pipe and no COLUMNS, like a CI job."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "assistant.app.cli", "eval", *args],
                          env=env, capture_output=True, text=True, timeout=600)


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _result(ndcg: float) -> dict:
    return {
        "dataset": "shop", "mode": "hybrid", "queries": 2,
        "retrieval": {"ndcg@10": ndcg, "recall@5": 1.0, "recall@20": 1.0, "recall@100": 1.0, "mrr@10": ndcg},
        "answer": {"contains": 0.5, "f1": 0.2}, "citation": {"precision": 1.0, "recall": 1.0},
        "refusal": {"rate_on_impossible": None, "false_refusal_rate": 0.0},
        "latency_ms": {"p50": 12.0, "p95": 20.0},
        "stage_latency_ms": {"embed_query": {"p50": 2.0, "p95": 3.0}, "answer": {"p50": 1.0, "p95": 2.0}},
        "counts": {"retrieval": 2},
    }


def _row(qid: str, *, refused: bool = False, top: str = "invoice") -> QuestionRow:
    return QuestionRow(id=qid, text=f"问题 {qid}", category="faq", retrieved=[top], relevant=["invoice"],
                       answer="抱歉，没有找到" if refused else "24小时内[1]", refused=refused,
                       refusal="weak_evidence" if refused else None, contains=not refused, gold_answers=["24小时内"])


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = RunFile(results=[_result(1.0)], rows={"hybrid": [_row("q-invoice"), _row("q-return"), _row("q-en")]})
    b = RunFile(results=[_result(0.8)], rows={"hybrid": [_row("q-invoice"), _row("q-return", refused=True),
                                                         _row("q-en", top="shipping")]})
    return a.write(tmp_path / "a.json"), b.write(tmp_path / "b.json")


def test_eval_run_through_a_pipe_prints_every_column_and_category_whole(shop_set, tmp_path):
    out = tmp_path / "run.json"
    done = eval_cli("run", "--dataset", str(shop_set), "--mode", "bm25", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    lines = done.stdout.splitlines()
    assert cells(lines[0]) == ["dataset", "mode", *[name for name, _, _ in SUMMARY]]
    summary = cells(lines[2])
    result = load_run(out).results[0]
    assert summary[:2] == ["shop", "bm25"] and summary[2] == f"{result['retrieval']['ndcg@10']:.3f}"
    by_category = {cells(line)[2]: cells(line) for line in lines if line.startswith("shop ") and len(cells(line)) == 8}
    assert set(by_category) == {"faq", "cross_lingual", "unanswerable_related"}
    assert by_category["faq"][3] == "2"  # queries


def test_compare_by_question_through_a_pipe_lists_the_changed_questions_with_counts(tmp_path):
    a, b = _two_runs(tmp_path)
    done = eval_cli("compare", str(a), str(b), "--by-question")
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    metrics = {cells(line)[1]: cells(line) for line in done.stdout.splitlines() if line.startswith("hybrid ")}
    assert metrics["retrieval.ndcg@10"][2:] == ["1.000", "0.800", "-0.2000"]
    assert "stage_latency_ms.embed_query.p95" in metrics
    assert "hybrid: 3 questions in both runs, 2 changed" in done.stdout
    assert re.search(r"answered -> refused +1\n", done.stdout) and re.search(r"top document changed +1\n", done.stdout)
    assert "q-return [faq]  问题 q-return" in done.stdout and "top document: invoice (relevant) -> shipping" in done.stdout
    assert "q-invoice" not in done.stdout


def test_compare_keeps_gating_on_max_drop_and_fail_under(tmp_path):
    a, b = _two_runs(tmp_path)
    dropped = eval_cli("compare", str(a), str(b), "--by-question", "--max-drop", "0.05")
    assert dropped.returncode == 1
    assert "[hybrid] retrieval.ndcg@10 went from 1 to 0.8" in dropped.stderr
    assert eval_cli("compare", str(a), str(b), "--max-drop", "0.5").returncode == 0
    below = eval_cli("compare", str(a), str(b), "--fail-under", "ndcg@10=0.9")
    assert below.returncode == 1 and "below the minimum 0.9" in below.stderr


def test_compare_and_table_read_run_files_written_before_rows_were_kept(tmp_path):
    _, new = _two_runs(tmp_path)
    one_mode, all_modes = tmp_path / "old.json", tmp_path / "old-all.json"
    one_mode.write_text(json.dumps(_result(0.9), indent=2), encoding="utf-8")
    all_modes.write_text(json.dumps([{**_result(0.7), "mode": "bm25"}, _result(0.9)], indent=2), encoding="utf-8")

    compared = eval_cli("compare", str(one_mode), str(new))
    assert compared.returncode == 0, compared.stderr
    assert any(cells(line)[1:] == ["retrieval.ndcg@10", "0.900", "0.800", "-0.1000"] for line in compared.stdout.splitlines())
    table = eval_cli("table", str(all_modes), str(new))
    assert table.returncode == 0, table.stderr
    assert "| shop | bm25 | 0.700 |" in table.stdout and table.stdout.count("| shop | hybrid |") == 2

    by_question = eval_cli("compare", str(one_mode), str(new), "--by-question")
    assert by_question.returncode == 2
    assert "old.json has no per-question rows" in by_question.stderr
