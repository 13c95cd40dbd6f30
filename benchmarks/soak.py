"""Memory over time: ``/v1/ask`` under steady mixed load for ten minutes, the server's RSS every minute.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--clients 8] [--fill 0] [--restart] [--data-dir DIR]

Starts ``assistant serve --load-demo`` on a fresh data directory (as benchmarks/load.py does) and
drives it with ``--clients`` closed-loop clients over the demo eval set's questions, three Chinese to
one English, for ``--minutes``; after each minute it prints that minute's throughput, Chinese and
English p95, errors and the server's resident memory (/proc). The acceptance compares the last
minute's RSS with the first's (growth within 10 %).

``--fill N`` first uploads synthetic SOPs (benchmarks/synthetic.py) until the knowledge bases hold
about N chunks, then soaks: RSS with a large knowledge base loaded (the target is 100k chunks within
1.5 GB). Embedding 100k chunks takes about ten minutes on two cores. ``--restart`` stops the server
after the fill and soaks a fresh one on the same data (what serving that knowledge base costs, without
what the ingestion left in the process); ``--data-dir`` keeps the data for another run (a directory
that already holds the chunks is not filled again).

The last line is ``rss_first_mb=N rss_last_mb=N rss_growth_pct=N rss_max_mb=N chunks=N``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import Level, Server, api_key, drive, mixed, questions, start_demo_erp, wait_for_job  # noqa: E402
from benchmarks.synthetic import document  # noqa: E402

BATCH = 100  # files per upload while filling


def chunks(url: str, key: str) -> int:
    """Chunks the server's knowledge bases hold, from the metrics it exposes (loopback: no key needed)."""
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30).text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("assistant_index_chunks{")))


def fill(url: str, key: str, target: int, folder: Path) -> int:
    """Upload synthetic SOPs in batches until about ``target`` chunks are indexed; the chunks reached."""
    rng = random.Random(11)
    folder.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=600, headers=headers) as client:
        r = client.post("/v1/kbs", json={"name": "soak", "description": "soak fill"})
        if r.status_code not in (201, 409):
            r.raise_for_status()
        n, have = 0, chunks(url, key)
        while have < target:
            files = [(f"sop-{n + i:06d}.md", document(rng).encode("utf-8")) for i in range(BATCH)]
            n += BATCH
            job = client.post("/v1/kbs/soak/documents", files=[("files", (name, body, "text/markdown"))
                                                              for name, body in files]).json()["job_id"]
            wait_for_job(client, job)
            have = chunks(url, key)
            print(f"  filled {have} chunks from {n} files in {time.perf_counter() - started:.0f} s", flush=True)
    return have


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fill", type=int, default=0, help="chunks to index before the soak (0: the demo only)")
    parser.add_argument("--restart", action="store_true", help="soak a fresh server on the filled data")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data here (default: a temporary one)")
    args = parser.parse_args()

    zh, en = questions()
    minutes: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        erp, erp_url = start_demo_erp(Path(tmp))
        server = Server(data_dir, load_demo=True, erp_url=erp_url)
        try:
            print(f"server ready in {server.wait_ready():.1f} s; RSS {server.rss_mb():.0f} MB", flush=True)
            key = api_key(server.url)
            held = fill(server.url, key, args.fill, Path(tmp) / "files") if args.fill else chunks(server.url, key)
            print(f"{held} chunks indexed; RSS {server.rss_mb():.0f} MB", flush=True)
            if args.restart:
                server.stop()
                server = Server(data_dir, load_demo=False, erp_url=erp_url)
                print(f"restarted: ready in {server.wait_ready():.1f} s; RSS {server.rss_mb():.0f} MB", flush=True)
            print("| minute | req/s | zh p95 | en p95 | errors | RSS MB |")
            print("|---|---|---|---|---|---|")
            for m in range(1, args.minutes + 1):
                level = Level(f"{m}", args.clients, 60.0)
                asyncio.run(drive(server.url, key, level, mixed(zh, en, m)))
                level.rss_mb = server.rss_mb()
                minutes.append(level)
                print(f"| {m} | {level.requests / level.wall:.1f} | {level.pct('zh', 95):.0f} | "
                      f"{level.pct('en', 95):.0f} | {level.errors} | {level.rss_mb:.0f} |", flush=True)
        finally:
            server.stop()
            erp.terminate()
            erp.wait()

    first, last = minutes[0].rss_mb, minutes[-1].rss_mb
    print(f"rss_first_mb={first:.0f} rss_last_mb={last:.0f} rss_growth_pct={(last - first) / first * 100:.1f} "
          f"rss_max_mb={max(m.rss_mb for m in minutes):.0f} chunks={held}")


if __name__ == "__main__":
    main()
