"""Warm start: ``assistant serve`` launched on a data directory that already holds a knowledge base,
until ``/healthz`` (the port is open) and ``/readyz`` (answers are ready) say 200.

    .venv/bin/python benchmarks/warm_start.py [--starts 5] [--files 0] [--data-dir DIR]

The first start loads the demo knowledge base (and, with ``--files``, that many synthetic SOPs
ingested through the API) and is not counted; then the server is stopped and started again
``--starts`` times on the same directory. ``--data-dir`` times starts on a data directory that is
already there instead (benchmarks/soak.py ``--fill 100000 --data-dir DIR`` makes one of 100k chunks). Each row shows the time to the open port, to ready, and the
warm-up's own steps as ``/readyz`` reports them. The last line is
``warm_start_s=N healthz_s=N`` (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import Server, api_key, start_demo_erp, upload, wait_for_job  # noqa: E402


def timed_start(data_dir: Path, erp_url: str) -> tuple[float, float, dict[str, float]]:
    """(seconds to /healthz 200, seconds to /readyz 200, the warm-up's steps) of one launch."""
    server = Server(data_dir, load_demo=False, erp_url=erp_url)
    try:
        alive = None
        with httpx.Client(base_url=server.url, timeout=2) as client:
            deadline = time.perf_counter() + 120
            while time.perf_counter() < deadline:
                if server.proc.poll() is not None:
                    raise SystemExit(f"the server exited ({server.proc.returncode}); see {server.log.name}")
                try:
                    if alive is None and client.get("/healthz").status_code == 200:
                        alive = time.perf_counter() - server.started
                    ready = client.get("/readyz")
                    if ready.status_code == 200:
                        return alive or 0.0, time.perf_counter() - server.started, ready.json()["checks"].get("warm_up_steps_s", {})
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise SystemExit(f"not ready in 120 s; see {server.log.name}")
    finally:
        server.stop()


def prepare(data_dir: Path, erp_url: str, files: int, folder: Path) -> None:
    """The demo knowledge base (and ``files`` synthetic SOPs) in a new data directory."""
    first = Server(data_dir, load_demo=True, erp_url=erp_url)
    try:
        print(f"first start (demo loaded): {first.wait_ready():.1f} s", flush=True)
        if files:
            key = api_key(first.url)
            job = upload(first.url, key, files, folder)
            with httpx.Client(base_url=first.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
                print(f"{files} files: job {wait_for_job(client, job)}", flush=True)
    finally:
        first.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--files", type=int, default=0, help="synthetic SOPs added before the timed starts")
    parser.add_argument("--data-dir", type=Path, help="time starts on this existing data directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warm-start-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        erp, erp_url = start_demo_erp(Path(tmp))
        if args.data_dir is None:
            prepare(data_dir, erp_url, args.files, Path(tmp) / "files")
        runs = []
        print("\n| start | healthz s | ready s | warm-up steps s |\n|---|---|---|---|")
        for n in range(args.starts):
            alive, ready, steps = timed_start(data_dir, erp_url)
            runs.append((alive, ready))
            print(f"| {n + 1} | {alive:.2f} | {ready:.2f} | "
                  f"{', '.join(f'{k} {v:.2f}' for k, v in steps.items())} |", flush=True)
        erp.terminate()
        erp.wait()
    print(f"\nwarm_start_s={statistics.median(r for _, r in runs):.2f} "
          f"healthz_s={statistics.median(a for a, _ in runs):.2f}")


if __name__ == "__main__":
    main()
