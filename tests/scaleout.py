"""Fixtures' helpers for the scale-out tests: a Chroma server and processes over shared storage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROLES = REPO / "tests" / "scaleout_roles.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """``chroma run`` on a free port over ``path``; its URL while the block runs."""
    port = free_port()
    log = open(path.parent / f"chroma-{port}.log", "wb")
    process = subprocess.Popen([str(REPO / ".venv" / "bin" / "chroma"), "run", "--path", str(path), "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start: {(path.parent / f'chroma-{port}.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def shared_env(database_url: str, chroma_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a replica or worker over the shared storage (its own data directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({
        "ASSISTANT_DATABASE_URL": database_url, "ASSISTANT_CHROMA_URL": chroma_url,
        "ASSISTANT_STORAGE__DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO), **extra,
    })
    data_dir.mkdir(parents=True, exist_ok=True)
    return env


def role(name: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROLES), name, *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
