"""``assistant eval run --api URL``: the eval harness through a running server's HTTP API (its own
worker ingests the corpus into a knowledge base made for the run and removed after; its pipeline
answers), as a user runs it: the command in a subprocess, the server on a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import served_app

CORPUS = [
    {"_id": "invoice", "title": "电子发票", "text": "确认收货后24小时内开具电子普通发票，发送至预留邮箱。"},
    {"_id": "refund", "title": "退款时效", "text": "退款在仓库收到退货后3个工作日内原路退回。"},
    {"_id": "points", "title": "会员积分", "text": "会员积分满五百分可兑换十元优惠券。"},
]
QUERIES = [
    {"_id": "q1", "text": "电子发票多久开出来？", "answers": ["24小时"]},
    {"_id": "q2", "text": "退款几天到账？", "answers": ["3个工作日"]},
    {"_id": "q3", "text": "积分怎么兑换优惠券？", "answers": ["五百分"]},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("deployment") / "data") as (client, base, key):
        yield base, key, client


@pytest.fixture
def dataset(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUERIES),
                                          encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tinvoice\t1\nq2\trefund\t1\nq3\tpoints\t1\n")
    return folder


def eval_run(url: str, key: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_API_KEY": key, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "assistant.app.cli", "eval", "run", "--api", url, *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_dataset_runs_through_the_servers_api_and_leaves_nothing_behind(server, dataset, tmp_path):
    url, key, client = server
    before = {kb["name"] for kb in client.get("/v1/kbs").json()}
    out = tmp_path / "run.json"
    result = eval_run(url, key, "--dataset", str(dataset), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads(out.read_text(encoding="utf-8"))
    [scores] = run["results"]
    assert scores["queries"] == 3 and scores["retrieval"]["recall@5"] == 1.0
    assert scores["answer"]["contains"] == 1.0, run["rows"]
    assert run["meta"]["settings"] == {"deployment": url}
    assert [row["id"] for row in run["rows"]["hybrid+rerank"]] == ["q1", "q2", "q3"]
    assert {kb["name"] for kb in client.get("/v1/kbs").json()} == before, "the run's knowledge base is removed"


def test_a_wrong_key_or_a_mode_the_server_cannot_serve_is_a_clear_error(server, dataset):
    url, key, _ = server
    refused = eval_run(url, "k_not_a_key", "--dataset", str(dataset))
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr, refused.stderr[-1000:]
    bm25 = eval_run(url, key, "--dataset", str(dataset), "--mode", "bm25")
    assert bm25.returncode == 2 and "hybrid+rerank" in bm25.stderr, bm25.stderr[-1000:]
