"""A document replaced by one process while another queries, over PostgreSQL (catalog and keyword
index) and a Chroma server: every query sees one version of it, whole, never both and never neither."""

from __future__ import annotations

import pytest

from assistant.storage.sql.engine import temporary_database
from tests.assistant.storage.conftest import POSTGRES_URL
from tests.scaleout import chroma_server, lines, role, shared_env

SECONDS = 40


@pytest.mark.services
def test_a_reader_on_another_process_sees_one_version_of_a_document_replaced_in_a_loop(tmp_path):
    with temporary_database(POSTGRES_URL, "visibility") as url, chroma_server(tmp_path / "chroma") as chroma:
        grace = {"ASSISTANT_INGESTION__RETIRE_GRACE_SECONDS": "3"}  # purges land while the reader reads
        writer = role("replace", str(SECONDS), env=shared_env(url, chroma, tmp_path / "writer", **grace))
        first = writer.stdout.readline()  # the knowledge base and version A exist before the reader starts
        assert first.startswith("{"), writer.stderr.read()[-3000:]
        reader = role("query", str(SECONDS - 5), env=shared_env(url, chroma, tmp_path / "reader", **grace))
        read_out, read_err = reader.communicate(timeout=SECONDS * 6)
        write_out, write_err = writer.communicate(timeout=SECONDS * 6)
        assert reader.returncode == 0, read_err[-3000:]
        assert writer.returncode == 0, write_err[-3000:]

    replaces = lines(first + write_out)
    queries = lines(read_out)
    assert all(r["status"] in ("added", "replaced") for r in replaces)
    assert len(replaces) >= 10 and len(queries) >= 30, (len(replaces), len(queries))
    seen = {tuple(q["versions"]) for q in queries}
    assert seen == {("A",), ("B",)}, f"both versions are seen over the run, one at a time: {seen}"
    broken = [q for q in queries if q["hits"] == 0 or len(q["versions"]) != 1 or q["markers"] != q["versions"]]
    assert broken == [], f"{len(broken)} of {len(queries)} queries saw both versions, neither, or a mix: {broken[:5]}"
