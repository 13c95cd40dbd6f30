"""/v1/ask on a local cluster (``assistant.app.cluster``): throughput and p95 with one and two replicas,
and query p95 while a worker ingests documents, against the idle p95.

A cluster of two replicas and one worker over a database made for the run (dropped after), the local
Redis and a Chroma server of its own, with the demo knowledge bases. Clients ask the demo eval
questions in a loop over HTTP: ``--concurrency`` of them against replica 1 alone, then through the
round-robin balancer (both replicas); then one client through the balancer idle and while
``--documents`` uploads are ingested by the worker.

    .venv/bin/python benchmarks/cluster.py [--seconds 20] [--concurrency 4] [--documents 1000]

On one machine the replicas share its cores with each other, the worker and the engines: two
replicas measure the cost of the balancer and of sharing, not the gain of a second machine. The last
line: ``one_replica_rps=N two_replica_rps=N ingest_p95_ratio=N``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.app.cluster import ClusterPlan, LocalCluster  # noqa: E402
from assistant.storage.sql.engine import temporary_database  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ASSISTANT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def questions() -> list[str]:
    lines = (REPO / "data" / "eval" / "demo" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def load(url: str, key: str, asked: list[str], seconds: float, concurrency: int) -> list[float]:
    """Latencies (ms) of the questions answered by ``concurrency`` clients in ``seconds``."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                          trust_env=False) as http:
            n = offset
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = http.post("/v1/ask", json={"question": asked[n % len(asked)]})
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
                n += concurrency

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def document(i: int) -> bytes:
    return (f"# 门店{i}号售后须知\n\n## 退换货\n门店{i}号的商品在签收后七天内可无理由退货，十五天内可换货。\n\n"
            f"## 营业时间\n门店{i}号每天九点至二十一点营业，节假日照常。\n").encode("utf-8")


def ingest_while_asking(cluster: LocalCluster, asked: list[str], documents: int, seconds: float) -> tuple[list[float], float]:
    """Upload ``documents`` files (10 per job) into a knowledge base, then ask while the worker ingests them."""
    http = httpx.Client(base_url=cluster.url, headers={"Authorization": f"Bearer {cluster.api_key}"}, timeout=120,
                        trust_env=False)
    http.post("/v1/kbs", json={"name": "stores"}).raise_for_status()
    jobs = []
    for start in range(0, documents, 10):
        files = [("files", (f"store-{i}.md", document(i), "text/markdown")) for i in range(start, min(start + 10, documents))]
        jobs.append(http.post("/v1/kbs/stores/documents", files=files).json()["job_id"])
    started = time.monotonic()
    latencies: list[float] = []
    while True:
        latencies += load(cluster.url, cluster.api_key, asked, min(seconds, 10), 1)
        states = [http.get(f"/v1/jobs/{j}").json()["status"] for j in jobs]
        if all(s in ("done", "failed") for s in states):
            break
    took = time.monotonic() - started
    http.close()
    return latencies, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()
    asked = questions()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    settings = {"ASSISTANT_ERP__BASE_URL": "", "ASSISTANT_AUTH__REQUESTS_PER_MINUTE": "1000000"}
    with tempfile.TemporaryDirectory() as root, temporary_database(POSTGRES_URL, "clusterbench") as url:
        plan = ClusterPlan(root=Path(root), database_url=url, redis_url=REDIS_URL, replicas=2, workers=1, port=0,
                           load_demo=True, env=settings, base_env=env)
        started = time.monotonic()
        with LocalCluster(plan) as cluster:
            print(f"cluster ready in {time.monotonic() - started:.0f} s", flush=True)
            load(cluster.url, cluster.api_key, asked, 5, args.concurrency)  # warm both replicas
            one = load(cluster.replica_urls[0], cluster.api_key, asked, args.seconds, args.concurrency)
            two = load(cluster.url, cluster.api_key, asked, args.seconds, args.concurrency)
            idle = load(cluster.url, cluster.api_key, asked, args.seconds, 1)
            busy, took = ingest_while_asking(cluster, asked, args.documents, args.seconds)
            rss = {m.name: _rss_mb(m.pid) for m in cluster.members}
    rps = {"one": len(one) / args.seconds, "two": len(two) / args.seconds}
    ratio = p95(busy) / p95(idle)
    print(f"{'load':<34} {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for label, values, per_s in (
        (f"1 replica, {args.concurrency} clients", one, rps["one"]),
        (f"2 replicas (balancer), {args.concurrency} clients", two, rps["two"]),
        ("2 replicas, 1 client, idle", idle, len(idle) / args.seconds),
        (f"2 replicas, 1 client, ingesting {args.documents}", busy, len(busy) / took),
    ):
        print(f"{label:<34} {per_s:>9.1f} {statistics.median(values):>8.0f} {p95(values):>8.0f}")
    print(f"the worker ingested {args.documents} documents in {took:.0f} s; memory (RSS MB): "
          + ", ".join(f"{name} {mb:.0f}" for name, mb in rss.items()))
    print(f"one_replica_rps={rps['one']:.1f} two_replica_rps={rps['two']:.1f} ingest_p95_ratio={ratio:.2f}")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    main()
