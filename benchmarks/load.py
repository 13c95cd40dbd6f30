"""Latency under load: ``/v1/ask`` driven by 1, 4 and 16 clients, then while 300 files are ingested.

    .venv/bin/python benchmarks/load.py [--seconds 20] [--clients 1,4,16] [--rates 8,16] [--files 300] [--starts 5]

Starts ``assistant serve --load-demo`` in a process of its own on a fresh data directory (the demo
knowledge base, the server's own ingestion worker), makes an API key, and drives ``/v1/ask`` over
loopback from an asyncio client: each client sends its next question as soon as the last answer
arrives (closed loop), for ``--seconds`` at each level, over the demo eval set's questions mixed
three Chinese to one English. Then the same mix arrives at ``--rates`` questions per second whatever
the answers do (open loop, each answer timed from its question's arrival): the load of many
customers, where a closed loop is that of a few impatient ones. Then 4 clients ask Chinese questions while an upload of ``--files``
synthetic SOPs (benchmarks/synthetic.py) is ingested, against the same 4 clients idle just before.
Last, the server is stopped and started again on the same directory ``--starts`` times: the time from
launch to ``/readyz`` answering 200 (warm start).

The client shares the server's two cores, so the figures are pessimistic. RSS is the server
process's resident memory, read from /proc after each level. The last line is
``zh_p95_ms=N en_p95_ms=N ingest_p95_ratio=N rss_mb=N warm_start_s=N`` (16 clients mixed; ratio =
Chinese p95 during ingestion / idle; warm start: median).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import document  # noqa: E402

PASSWORD = "load-bench-admin-password"
CJK = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``assistant serve`` on a data directory, in its own process group."""

    def __init__(self, data_dir: Path, *, load_demo: bool, erp_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "ASSISTANT_DATA_DIR": str(data_dir),
            "ASSISTANT_AUTH__ADMIN_PASSWORD": PASSWORD,
            "ASSISTANT_AUTH__REQUESTS_PER_MINUTE": "1000000",  # the load is one principal
            "ASSISTANT_ERP__BASE_URL": erp_url,  # order questions are looked up, as in `make run`
        }
        cmd = [sys.executable, "-m", "assistant.app.cli", "serve", "--port", str(self.port)]
        if load_demo:
            cmd.append("--load-demo")
        self.log = (data_dir.parent / f"server-{self.port}.log").open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 600) -> float:
        """Seconds from launch to ``/readyz`` 200 (``/healthz`` on a server without it)."""
        deadline = time.perf_counter() + timeout
        path = "/readyz"
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                r = httpx.get(self.url + path, timeout=2)
                if r.status_code == 404 and path == "/readyz":
                    path = "/healthz"
                    continue
                if r.status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"the server was not ready in {timeout:.0f} s; see {self.log.name}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_demo_erp(tmp: Path) -> tuple[subprocess.Popen, str]:
    """``assistant erp-demo`` on a free port with its data under ``tmp``: the process and its URL
    (order questions are looked up, as in `make run`)."""
    port = free_port()
    erp = subprocess.Popen([sys.executable, "-m", "assistant.app.cli", "erp-demo", "--port", str(port)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "ASSISTANT_DATA_DIR": str(tmp / "erp")})
    return erp, f"http://127.0.0.1:{port}"


def api_key(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        r.raise_for_status()
        r = client.post("/v1/keys", json={"role": "admin", "name": "load benchmark"})
        r.raise_for_status()
        return r.json()["key"]


# ---------------------------------------------------------------- the load


@dataclass
class Level:
    name: str
    clients: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"zh": [], "en": []})
    errors: int = 0
    wall: float = 0.0
    rss_mb: float = 0.0
    rate: float = 0.0  # questions per second arriving whatever the answers do (open loop); 0: closed loop

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def pct(self, lang: str | None, q: float) -> float:
        values = sorted(self.latencies[lang] if lang else self.latencies["zh"] + self.latencies["en"])
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def questions() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (ROOT / "data/eval/demo/queries.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    zh = [r["text"] for r in rows if CJK.search(r["text"])]
    en = [r["text"] for r in rows if not CJK.search(r["text"])]
    return zh, en


def mixed(zh: list[str], en: list[str], seed: int) -> list[tuple[str, str]]:
    """Three Chinese questions to one English, shuffled."""
    rng = random.Random(seed)
    out = [("zh", q) for q in zh] + [("en", q) for q in en * max(1, len(zh) // (3 * max(1, len(en))))]
    rng.shuffle(out)
    return out


async def ask_timed(c: httpx.AsyncClient, headers: dict, level: Level, lang: str, question: str, *, since: float) -> None:
    """Ask one question; its latency (from ``since``) goes into ``level``, or it counts as an error."""
    try:
        r = await c.post("/v1/ask", json={"question": question}, headers=headers)
        ok = r.status_code == 200
    except httpx.HTTPError:
        ok = False
    if ok:
        level.latencies[lang].append((time.perf_counter() - since) * 1000)
    else:
        level.errors += 1


async def drive(url: str, key: str, level: Level, pool: list[tuple[str, str]], stop: asyncio.Event | None = None) -> None:
    limits = httpx.Limits(max_connections=level.clients, max_keepalive_connections=level.clients)
    headers = {"Authorization": f"Bearer {key}"}
    end = time.perf_counter() + level.seconds
    counter = iter(range(10**9))

    async def client(c: httpx.AsyncClient) -> None:
        while time.perf_counter() < end and not (stop and stop.is_set()):
            lang, question = pool[next(counter) % len(pool)]
            await ask_timed(c, headers, level, lang, question, since=time.perf_counter())

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as c:
        await asyncio.gather(*(client(c) for _ in range(level.clients)))
    level.wall = time.perf_counter() - t0


async def drive_open(url: str, key: str, level: Level, pool: list[tuple[str, str]], seed: int = 3) -> None:
    """Questions arrive at ``level.rate`` per second (Poisson) for ``level.seconds``, each timed from
    its arrival, so a slow answer delays none of the next arrivals (as customers do not wait for each
    other) and time spent queued counts."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)

    t0 = time.perf_counter()
    tasks = []
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as c:
        at, n = t0, 0
        while at < t0 + level.seconds:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            lang, question = pool[n % len(pool)]
            tasks.append(asyncio.create_task(ask_timed(c, headers, level, lang, question, since=at)))
            at += rng.expovariate(level.rate)
            n += 1
        await asyncio.gather(*tasks)
    level.wall = time.perf_counter() - t0


def wait_for_job(client: httpx.Client, job_id: str) -> str:
    """Poll ``/v1/jobs/{id}`` (``client`` signed in) every second until the job is done or failed; which."""
    while (status := client.get(f"/v1/jobs/{job_id}").json()["status"]) not in ("done", "failed"):
        time.sleep(1)
    return status


def upload(url: str, key: str, files: int, folder: Path) -> str:
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = folder / f"sop-{i:04d}.md"
        path.write_text(document(rng), encoding="utf-8")
        paths.append(path)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
        r = client.post("/v1/kbs", json={"name": "bulk", "title": "批量导入"})
        if r.status_code not in (201, 409):
            r.raise_for_status()
        r = client.post("/v1/kbs/bulk/documents",
                        files=[("files", (p.name, p.read_bytes(), "text/markdown")) for p in paths])
        r.raise_for_status()
        return r.json()["job_id"]


async def during_ingestion(url: str, key: str, job_id: str, level: Level, pool: list[tuple[str, str]]) -> dict:
    stop = asyncio.Event()
    status: dict = {}

    async def watch() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:
            while not stop.is_set():
                r = await c.get(f"/v1/jobs/{job_id}")
                status.update(r.json())
                if status.get("status") in ("done", "failed", "finished", "completed"):
                    stop.set()
                    return
                await asyncio.sleep(0.5)

    level.seconds = 3600  # until the job ends
    await asyncio.gather(watch(), drive(url, key, level, pool, stop))
    return status


# ---------------------------------------------------------------- the report


def row(level: Level) -> str:
    return (f"| {level.name} | {f'{level.rate:g}/s arriving' if level.rate else level.clients} | {level.requests / level.wall:.1f} | "
            f"{level.pct('zh', 50):.0f} | {level.pct('zh', 95):.0f} | {level.pct('zh', 99):.0f} | "
            f"{level.pct('en', 50):.0f} | {level.pct('en', 95):.0f} | {level.pct('en', 99):.0f} | "
            f"{level.errors} | {level.rss_mb:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per load level")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--rates", default="8,16", help="open-loop levels: mixed questions arriving per second")
    parser.add_argument("--files", type=int, default=300, help="files ingested during the last level (0: skip)")
    parser.add_argument("--starts", type=int, default=5, help="warm starts timed at the end (0: skip)")
    args = parser.parse_args()

    zh, en = questions()
    levels: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        erp, erp_url = start_demo_erp(Path(tmp))
        server = Server(data_dir, load_demo=True, erp_url=erp_url)
        try:
            first = server.wait_ready()
            print(f"server ready in {first:.1f} s (first start, demo loaded); RSS {server.rss_mb():.0f} MB", flush=True)
            key = api_key(server.url)
            asyncio.run(drive(server.url, key, Level("warm-up", 2, 5), mixed(zh, en, 0)))
            for n in [int(c) for c in args.clients.split(",") if c]:
                for name, pool in (("zh", [("zh", q) for q in zh]), ("en", [("en", q) for q in en]),
                                   ("mixed", mixed(zh, en, n))):
                    if n > 1 and name != "mixed" and not (n == 4 and name == "zh"):
                        continue  # 1 client: each language alone; 4: Chinese (the ingestion baseline) and mixed
                    level = Level(f"{name}", n, args.seconds)
                    asyncio.run(drive(server.url, key, level, pool))
                    level.rss_mb = server.rss_mb()
                    levels.append(level)
                    print(row(level), flush=True)
            for rate in [float(r) for r in args.rates.split(",") if r]:
                level = Level("mixed, open loop", 0, args.seconds, rate=rate)
                asyncio.run(drive_open(server.url, key, level, mixed(zh, en, int(rate))))
                level.rss_mb = server.rss_mb()
                levels.append(level)
                print(row(level), flush=True)
            idle = next((lv for lv in levels if lv.name == "zh" and lv.clients == 4), None)
            busy = None
            if args.files:
                job_id = upload(server.url, key, args.files, Path(tmp) / "files")
                busy = Level("zh, ingesting", 4, 0)
                t0 = time.perf_counter()
                status = asyncio.run(during_ingestion(server.url, key, job_id, busy, [("zh", q) for q in zh]))
                busy.rss_mb = server.rss_mb()
                levels.append(busy)
                print(row(busy), flush=True)
                print(f"ingested {args.files} files in {time.perf_counter() - t0:.1f} s: job {status.get('status')}",
                      flush=True)
        finally:
            server.stop()

        starts = []
        for _ in range(args.starts):
            again = Server(data_dir, load_demo=False, erp_url=erp_url)
            try:
                starts.append(again.wait_ready(120))
                steps = httpx.get(again.url + "/readyz", timeout=5).json()["checks"].get("warm_up_steps_s", {})
                print(f"warm start {starts[-1]:.2f} s: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()), flush=True)
            finally:
                again.stop()
        erp.terminate()
        erp.wait()

    print()
    print("| load | clients | req/s | zh p50 | zh p95 | zh p99 | en p50 | en p95 | en p99 | errors | RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for level in levels:
        print(row(level))
    if starts:
        print(f"\nwarm start to ready: {', '.join(f'{s:.2f}' for s in starts)} s (median {statistics.median(starts):.2f})")
    top = next((lv for lv in reversed(levels) if lv.name == "mixed"), None)
    ratio = busy.pct("zh", 95) / idle.pct("zh", 95) if busy and idle else float("nan")
    print(f"zh_p95_ms={top.pct('zh', 95) if top else float('nan'):.0f} en_p95_ms={top.pct('en', 95) if top else float('nan'):.0f} "
          f"ingest_p95_ratio={ratio:.2f} rss_mb={max(lv.rss_mb for lv in levels):.0f} "
          f"warm_start_s={statistics.median(starts) if starts else float('nan'):.2f}")


if __name__ == "__main__":
    main()
