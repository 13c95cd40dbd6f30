"""The command line, run as a user runs it: a real subprocess per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ASSISTANT = [sys.executable, "-m", "assistant.app.cli"]


def run(args, data_dir: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run([*ASSISTANT, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-data")
    sop = tmp_path_factory.mktemp("docs") / "invoice.md"
    sop.write_text(
        "# 电子发票开具规范\n版本：V2.1\n## 开票时间\n确认收货后24小时内自动开具电子普通发票，发送至预留邮箱。\n",
        encoding="utf-8",
    )
    result = run(["ingest", str(sop), "--kb", "finance"], path)
    assert result.returncode == 0, result.stderr
    assert "invoice.md: added" in result.stdout
    return path


def test_ask_json_prints_the_whole_answer(data_dir):
    result = run(["ask", "电子发票多久开具？", "--json"], data_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"answer", "refused", "citations", "trace"} <= set(answer)
    assert answer["refused"] is False
    assert set(answer["citations"][0]) >= {"doc_id", "title", "section", "page", "quote"}
    assert answer["citations"][0]["doc_id"] == "invoice"


def test_ask_prints_numbered_sources_for_people(data_dir):
    result = run(["ask", "电子发票多久开具？"], data_dir)
    assert "[1] 电子发票开具规范 V2.1" in result.stdout


def test_ingest_reports_a_bad_file_by_name_and_exits_nonzero(data_dir, tmp_path):
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"not a zip")
    result = run(["ingest", str(bad), "--kb", "finance"], data_dir)
    assert result.returncode == 2
    assert "broken.docx: not a valid DOCX file" in result.stdout + result.stderr


def test_cli_refuses_a_data_directory_another_process_owns(data_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from assistant.storage.local import DataDirLock; from pathlib import Path;"
         "DataDirLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)",
         str(data_dir)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run(["kb", "list"], data_dir)
        assert result.returncode == 1
        assert "is in use by process" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    assert run(["kb", "list"], data_dir).returncode == 0, "the lock dies with its process"


def test_docs_disable_keeps_a_document_out_of_answers_until_enable(data_dir):
    assert run(["docs", "disable", "invoice"], data_dir).stdout.strip() == "disabled invoice"
    assert "disabled" in run(["docs", "list"], data_dir).stdout
    assert json.loads(run(["ask", "电子发票多久开具？", "--json"], data_dir).stdout)["refused"] is True
    assert run(["docs", "enable", "invoice"], data_dir).returncode == 0
    assert json.loads(run(["ask", "电子发票多久开具？", "--json"], data_dir).stdout)["refused"] is False
    assert run(["docs", "disable", "nope"], data_dir).returncode != 0
