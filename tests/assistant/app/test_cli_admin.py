"""Accounts, keys, departments and the audit log from the command line, beside a running server:
a real `assistant serve` process and a real subprocess per command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ASSISTANT = [sys.executable, "-m", "assistant.app.cli"]
SOP = "# 差旅报销规范\n版本：V1.3\n## 报销时限\n出差结束后 30 天内提交报销单，逾期不予报销。\n"


def env_for(data_dir: Path) -> dict:
    return {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "COLUMNS": "200",
            "ASSISTANT_MODELS__RERANKER": "none", "ASSISTANT_AUTH__ADMIN_PASSWORD": "admin-pass-123"}


def run(args, data_dir: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*ASSISTANT, *args], env=env_for(data_dir), capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cli-admin")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*ASSISTANT, "serve", "--port", str(port)], env=env_for(data_dir),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.2)
        yield url, data_dir
    finally:
        process.terminate()
        process.wait(30)


def test_the_command_line_administers_beside_a_running_server(server, tmp_path):
    url, data_dir = server
    assert run(["departments", "add", "finance", "--description", "财务部"], data_dir).returncode == 0
    made = run(["users", "add", "wang", "--role", "knowledge_manager", "--department", "finance",
                "--name", "王会计", "--password-stdin"], data_dir, input="wang-secret-1\n")
    assert made.returncode == 0, made.stderr
    signed = httpx.post(f"{url}/v1/auth/login", json={"username": "wang", "password": "wang-secret-1"})
    assert signed.status_code == 200 and signed.json()["departments"] == ["finance"]

    created = run(["keys", "create", "--role", "agent", "--department", "finance", "--name", "财务热线"], data_dir)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("k_") and "shown this once" in created.stderr
    listed = run(["keys", "list"], data_dir).stdout
    assert "财务热线" in listed and key not in listed  # the key itself is never shown again

    # ingesting while the server owns the data directory goes through the server, with the CLI's key
    sop = tmp_path / "travel.md"
    sop.write_text(SOP, encoding="utf-8")
    ingested = run(["ingest", str(sop), "--kb", "travel"], data_dir)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    assert "owns the data directory" in ingested.stdout
    assert run(["kb", "access", "travel", "--department", "finance"], data_dir).returncode == 0

    answer = httpx.post(f"{url}/v1/ask", json={"question": "出差报销多久内提交？"},
                        headers={"Authorization": f"Bearer {key}"}).json()
    assert answer["citations"][0]["doc_id"] == "travel"
    outsider = run(["keys", "create", "--role", "agent"], data_dir).stdout.strip()
    hidden = httpx.post(f"{url}/v1/ask", json={"question": "出差报销多久内提交？"},
                        headers={"Authorization": f"Bearer {outsider}"}).json()
    assert hidden["citations"] == [] and hidden["refused"]  # no department: the finance KB is not there

    key_id = key.split(".")[0]
    assert run(["keys", "revoke", key_id], data_dir).returncode == 0
    assert httpx.get(f"{url}/v1/kbs", headers={"Authorization": f"Bearer {key}"}).status_code == 401

    shown = run(["audit", "--kind", "question"], data_dir)
    assert shown.returncode == 0 and "出差报销多久内提交" in shown.stdout and "travel@V1.3" in shown.stdout
    out = tmp_path / "audit.jsonl"
    assert run(["audit", "--export", "jsonl", "--out", str(out)], data_dir).returncode == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    actions = {r["action"] for r in rows}
    assert {"ask", "department.create", "user.create", "key.create", "key.revoke", "kb.access", "login"} <= actions
    assert {r["channel"] for r in rows} >= {"cli", "api", "console"}


def test_bad_input_is_named_and_changes_nothing(server):
    _, data_dir = server
    wrong_role = run(["users", "add", "x1", "--role", "boss", "--password-stdin"], data_dir, input="long-enough\n")
    assert wrong_role.returncode == 1 and "--role 'boss' is not a role" in wrong_role.stderr
    no_department = run(["keys", "create", "--role", "agent", "--department", "nowhere"], data_dir)
    assert no_department.returncode == 1 and "no department nowhere" in no_department.stderr
    short = run(["users", "add", "x2", "--role", "agent", "--password-stdin"], data_dir, input="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr
    assert "x1" not in run(["users", "list"], data_dir).stdout
