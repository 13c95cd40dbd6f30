"""`assistant eval run` end to end on the demo set: real ingestion, real pipeline, real scores."""

from __future__ import annotations

import os
import subprocess
import sys

from assistant.app.evaluation import run_dataset as run
from eval.runfile import load_run
from tests.conftest import DEMO_EVAL

REQUIRED = {"dataset", "mode", "queries", "retrieval", "answer", "citation", "refusal", "latency_ms"}


def test_all_modes_share_one_ingestion_and_score_the_demo_set():
    runs = run(DEMO_EVAL, mode="all", limit=30)
    assert [r.result["mode"] for r in runs] == ["bm25", "vector", "hybrid", "hybrid+rerank"]
    for r in runs:
        assert REQUIRED <= set(r.result)
        assert r.result["queries"] == 30
        assert r.result["retrieval"]["recall@20"] > 0.8, r.result["mode"]
        assert r.result["latency_ms"]["p50"] > 0
    hybrid = runs[2].result
    assert hybrid["retrieval"]["ndcg@10"] >= runs[0].result["retrieval"]["ndcg@10"] - 0.05


def test_cli_writes_results_and_report_and_gates_on_fail_under(tmp_path):
    out, report = tmp_path / "r.json", tmp_path / "r.html"
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "assistant.app.cli", "eval", "run", "--dataset", str(DEMO_EVAL),
           "--mode", "hybrid", "--limit", "15", "--out", str(out), "--report", str(report)]
    ok = subprocess.run([*cmd, "--fail-under", "ndcg@10=0.1"], env=env, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr
    run_file = load_run(out)
    (result,) = run_file.results
    assert REQUIRED <= set(result) and result["mode"] == "hybrid"
    assert len(run_file.rows["hybrid"]) == 15 and run_file.meta.dataset.limit == 15
    assert "<img" in report.read_text(encoding="utf-8")
    table = subprocess.run([sys.executable, "-m", "assistant.app.cli", "eval", "table", str(out)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert table.stdout.splitlines()[0].startswith("| dataset | mode | nDCG@10")
    assert f"| {result['dataset']} | hybrid | " in table.stdout
    gated = subprocess.run([*cmd, "--fail-under", "ndcg@10=1.01"], env=env, capture_output=True, text=True, timeout=600)
    assert gated.returncode == 1
    assert "ndcg@10" in gated.stderr


def test_rerank_depth_bounds_what_the_cross_encoder_judges():
    from assistant.app.settings import Settings
    from assistant.text.normalize import detect_language

    settings = Settings().with_updates(retrieval={"rerank_depth": 2})
    runs = run(DEMO_EVAL, settings, mode="hybrid+rerank", limit=15)
    english = [r for r in runs[0].records if detect_language(r.trace["question"]) == "en"]
    assert english, "the first 15 demo queries include English ones"
    for record in english:
        # The head of the ranking is the reranked stage: only the 2 passages the model judged.
        assert len(record.trace["top"]) == 2, record.trace


def test_cli_rejects_a_rerank_depth_below_one():
    cmd = [sys.executable, "-m", "assistant.app.cli", "eval", "run", "--dataset", str(DEMO_EVAL), "--rerank-depth", "0"]
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "--rerank-depth" in bad.stderr
