"""How fast the console's long lists answer over a full data directory, through real HTTP.

    python benchmarks/console_pages.py [--documents 10000] [--audit 100000] [--sessions 1000] [--runs 20]

Fills a fresh data directory through the storage interfaces (catalog rows only: no files are
ingested), then serves the real app with uvicorn on 127.0.0.1, signs in to the console as the admin
and as a knowledge manager, and times each list page with an HTTP client: a knowledge base's
documents (page 1, page 50, a search), the audit log (page 1, filtered, as a knowledge manager), the
live sessions board (page 1, filtered, its live refresh, as a knowledge manager), one session's page
with its turns, and the sessions API. Prints a table and, last,
``name_p50_ms=N name_p95_ms=N ...`` for every page. The target is p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.app.api import create_app  # noqa: E402
from assistant.app.container import Services  # noqa: E402
from assistant.app.settings import Settings  # noqa: E402
from assistant.domain import AuditEntry, Document, Principal  # noqa: E402
from benchmarks.synthetic import TOPICS  # noqa: E402

ADMIN_PASSWORD = "bench-admin-pass"
MANAGER = ("bench-km", "bench-km-pass")
DEPARTMENTS = ("finance", "sales", "support")
CHANNELS = ("api", "console", "openai", "im:feishu", "im:dingtalk", "im:wecom")
OWNERS = ("客服部", "财务结算部", "物流中心", "售后服务部", "会员运营部")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fill(services: Services, documents: int, audit_rows: int, sessions: int, rng: random.Random) -> None:
    directory, catalog = services.directory, services.catalog
    for name in DEPARTMENTS:
        directory.create_department(name)
    for name, department in (("bench", None), ("finance", "finance"), ("sales", "sales")):
        catalog.create_kb(name, f"{name} SOPs", department)
    from assistant.app.auth import hash_password

    directory.create_user(MANAGER[0], hash_password(MANAGER[1]), "knowledge_manager", ["finance"])

    started = time.perf_counter()
    for n in range(documents):  # catalog rows only: the list pages never read the indexes
        topic = rng.choice(TOPICS)
        catalog.replace_document(Document(
            id=f"doc-{n:05d}", kb="bench", title=f"{topic}服务规范 {n}", source=f"doc-{n:05d}.docx",
            version=f"V{rng.randint(1, 5)}.{rng.randint(0, 9)}", owner=rng.choice(OWNERS),
            effective_date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", tags=[topic],
        ), [])
    print(f"  {documents} documents in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    started = time.perf_counter()
    principals = [Principal(kind="user", id=f"user:u{i}", name=f"用户{i}", role="agent",
                            departments=[DEPARTMENTS[i % 3]] if i % 4 else []) for i in range(200)]
    first = datetime.now(timezone.utc) - timedelta(days=90)
    step = timedelta(days=90) / max(1, audit_rows)
    session_ids = [f"{p.id}|s{k}" for k in range(sessions // len(principals) + 1) for p in principals][:sessions]
    for n in range(audit_rows):
        who = rng.choice(principals)
        at = first + step * n
        base = {"at": at, "channel": rng.choice(CHANNELS), "principal_id": who.id, "principal_kind": "user",
                "principal_name": who.name, "role": who.role, "departments": who.departments}
        roll = rng.random()
        if roll < 0.8:
            kb = rng.choice(("bench", "bench", "finance", "sales"))
            doc = f"doc-{rng.randrange(documents):05d}"
            refused = rng.random() < 0.15
            entry = AuditEntry(kind="question", action="ask", kbs=[kb], question=f"{rng.choice(TOPICS)}怎么办理？",
                               answer="" if refused else "请参见规范 [1]。", refused=refused,
                               refusal="weak_evidence" if refused else None, latency_ms=rng.uniform(20, 900),
                               sources=[] if refused else [{"n": 1, "doc_id": doc, "title": doc}],
                               conversation_id=rng.choice(session_ids) if session_ids else None, **base)
        elif roll < 0.95:
            entry = AuditEntry(kind="admin", action="document.upload", target="job", kbs=["bench"], **base)
        else:
            entry = AuditEntry(kind="login", action="login", target=who.id, **base)
        services.audit.append(entry)
    print(f"  {audit_rows} audit rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    started = time.perf_counter()
    for n, session_id in enumerate(session_ids):
        who = principals[n % len(principals)]
        entry = AuditEntry(kind="question", channel=rng.choice(CHANNELS), question="退款多久到账？", kbs=["bench"],
                           at=first + timedelta(minutes=n), refused=n % 7 == 0)
        services.sessions.record(session_id, who, entry)
    print(f"  {len(session_ids)} sessions in {time.perf_counter() - started:.0f} s", file=sys.stderr)


class Served:
    def __init__(self, app):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise SystemExit("the app did not start")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def signed_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, trust_env=False, timeout=60, follow_redirects=True)
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/console/login", data={"username": username, "password": password, "csrf": token})
    if "account-menu" not in done.text:
        raise SystemExit(f"could not sign in as {username}")
    return client


def time_page(client: httpx.Client, path: str, runs: int) -> list[float] | None:
    if client.get(path).status_code != 200:  # also the warm-up
        return None
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, help="fill this directory (default: a temporary one)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="console-bench-"))
    settings = Settings(storage={"data_dir": data_dir}).with_updates(
        models={"reranker": "none"}, auth={"admin_password": ADMIN_PASSWORD, "requests_per_minute": 100_000},
        erp={"base_url": None})
    print(f"filling {data_dir}", file=sys.stderr)
    with Services(settings) as services:
        services.auth.first_run(data_dir, ADMIN_PASSWORD)
        fill(services, args.documents, args.audit, args.sessions, random.Random(13))

    served = Served(create_app(settings))
    try:
        admin = signed_in(served.base, "admin", ADMIN_PASSWORD)
        manager = signed_in(served.base, *MANAGER)
        pages = [
            ("kb_documents", admin, "/console/kbs/bench"),
            ("kb_documents_page50", admin, "/console/kbs/bench?page=50"),
            ("kb_documents_search", admin, "/console/kbs/bench?q=%E9%80%80%E6%AC%BE"),  # 退款
            ("audit", admin, "/console/audit"),
            ("audit_filtered", admin, "/console/audit?kind=question&refused=yes&channel=im%3Afeishu"),
            ("audit_kb_doc", admin, "/console/audit?kb=bench&doc=doc-00042"),
            ("audit_department", admin, "/console/audit?department=finance&since=2020-01-01"),
            ("audit_manager", manager, "/console/audit"),
            ("sessions", admin, "/console/sessions"),
            ("sessions_filtered", admin, "/console/sessions?department=finance&refused=yes&channel=im%3Afeishu"),
            ("sessions_live_rows", admin, "/console/sessions?rows=1"),
            ("sessions_manager", manager, "/console/sessions"),
            ("session", admin, "/console/sessions/user%3Au1%7Cs0"),
            ("sessions_api", admin, "/v1/sessions"),
        ]
        results = []
        for name, client, path in pages:
            timings = time_page(client, path, args.runs)
            if timings is None:
                print(f"  {name}: {path} is not served yet; skipped", file=sys.stderr)
                continue
            results.append((name, path, statistics.median(timings), percentile(timings, 95), max(timings)))
    finally:
        served.close()

    print(f"\n{args.documents} documents, {args.audit} audit rows, {args.sessions} sessions; {args.runs} runs each\n")
    print(f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  path")
    for name, path, p50, p95, top in results:
        print(f"{name:<22} {p50:8.1f} {p95:8.1f} {top:8.1f}  {path}")
    print(" ".join(f"{name}_p50_ms={p50:.1f} {name}_p95_ms={p95:.1f}" for name, _, p50, p95, _ in results))


if __name__ == "__main__":
    main()
