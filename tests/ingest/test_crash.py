"""Kill -9 in the middle of ingestion: a restart finds no half-ingested document, and the catalog's
ledger alone (no scan of the indexes, as a replica sharing the storage must do) finds every leftover."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from assistant.app.container import Services
from assistant.domain import Chunk
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
STAGE_TTL = 0.5  # the killed writer's staged chunks count as leftovers this soon

WRITER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from assistant.app.container import Services
    from assistant.app.settings import Settings
    from assistant.domain import DocumentMeta

    data, docs = Path(sys.argv[1]), Path(sys.argv[2])
    services = Services(Settings(storage={{"data_dir": data}})).open()
    services.catalog.create_kb("kb1")
    ingestor = services.ingestor()
    ingestor.stage_ttl_seconds = {STAGE_TTL}
    for round_ in range(1000):
        for i, path in enumerate(sorted(docs.glob("*.md"))):
            text = path.read_text(encoding="utf-8").replace("ROUND", str(round_))
            path.with_suffix(".txt").write_text(text, encoding="utf-8")
            ingestor.ingest_file(path.with_suffix(".txt"), "kb1", DocumentMeta(id=path.stem))
            print(f"done {{round_}} {{i}}", flush=True)
    """
)


def make_docs(folder, n: int = 6) -> None:
    folder.mkdir()
    for d in range(n):
        body = "\n".join(f"## 第{s}节\n" + f"第ROUND轮，文档{d}第{s}节：退货须在签收后7天内申请，退款原路返回。" * 6 for s in range(12))
        (folder / f"doc{d}.md").write_text(f"# 文档{d}\n{body}\n", encoding="utf-8")


def check_consistent(data_dir) -> None:
    with Services(make_settings(data_dir)) as services:
        time.sleep(STAGE_TTL)
        services.janitor.sweep_leftovers()  # what a replica may do: only what the ledger proves dead
        catalog = services.catalog
        live = set(catalog.chunk_ids_of_kb("kb1"))
        keyword_ids = services.keyword.ids_by_kb().get("kb1", set())
        vector_ids = set(services.vector.ids("kb1"))
        assert live == keyword_ids == vector_ids, "every live chunk in both indexes, nothing else"
        for doc, count in catalog.list_documents("kb1"):
            chunks = catalog.chunks_of(doc.id)
            assert len(chunks) == count, f"{doc.id}: catalog says {count} chunks, has {len(chunks)}"
            rounds = {r for c in chunks for r in re.findall(r"第(\d+)轮", c.text)}
            assert len(rounds) == 1, f"{doc.id} mixes versions {rounds}"
        answer = services.pipeline("hybrid", rerank=False).ask("退货多久内申请", kb_ids=["kb1"])
        assert not answer.refused
        assert services.janitor.sweep_orphans() == 0, "the full scan finds nothing the ledger missed"


def test_killed_ingestion_leaves_no_half_ingested_document(tmp_path):
    docs = tmp_path / "docs"
    make_docs(docs)
    data = tmp_path / "data"
    rng = random.Random(7)
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(docs)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        try:
            wanted = 4 + attempt * 3
            for _ in range(wanted):
                line = proc.stdout.readline()
                assert line.startswith("done"), proc.stderr.read()
            time.sleep(rng.uniform(0.0, 0.15))  # land somewhere inside the next document
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        check_consistent(data)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from assistant.app.container import Services
    from assistant.app.settings import Settings

    Services(Settings(storage={"data_dir": Path(sys.argv[1])})).open()
    print("holding", flush=True)
    time.sleep(600)
    """
)


def test_start_up_compares_every_index_entry_only_after_an_owner_died_holding_the_data_directory(tmp_path):
    """The full comparison costs seconds per 100k chunks on every start; after an orderly close the
    ledger is enough. An entry no ledger lists (as versions before the ledger left) shows which ran."""
    data = tmp_path / "data"
    stray = Chunk(id="stray-1", doc_id="stray", kb="kb1", ordinal=0, text="退货须在签收后7天内申请。")

    def stray_indexed(services) -> bool:
        return "stray-1" in services.keyword.ids_by_kb().get("kb1", set())

    with Services(make_settings(data)) as services:
        services.catalog.create_kb("kb1")
        services.keyword.apply(add=[stray])
        assert services.sweep() == 1 and not stray_indexed(services), "a first start compares everything"
        services.keyword.apply(add=[stray])
    with Services(make_settings(data)) as services:
        assert services.sweep() == 0 and stray_indexed(services), "closed in order: the ledger alone is read"

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert holder.stdout.readline().strip() == "holding"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with Services(make_settings(data)):
        pass  # a command that opens and closes without sweeping leaves the comparison to the next sweep
    with Services(make_settings(data)) as services:
        assert services.sweep() == 1 and not stray_indexed(services), "after a kill every entry is compared"
    with Services(make_settings(data)) as services:
        assert services.sweep() == 0
