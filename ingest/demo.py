"""The demo knowledge base shipped in ``data/kb``: two KBs described by ``manifest.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from assistant.domain import DocumentMeta
from ingest.job import Ingestor, IngestResult

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_KB_DIR = DATA_DIR / "kb"
KB_DESCRIPTIONS = {
    "support": "客服知识库：退货退款、物流、订单、会员、售后等 SOP 与 FAQ",
    "finance": "财务知识库：电子发票、支付问题",
}


def demo_manifest(kb_dir: Path = DEMO_KB_DIR) -> list[dict]:
    return json.loads((kb_dir / "manifest.json").read_text(encoding="utf-8"))


def load_demo(
    ingestor: Ingestor,
    kb_dir: Path = DEMO_KB_DIR,
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Create the demo KBs and ingest every file of the manifest (unchanged files are skipped)."""
    results = []
    for entry in demo_manifest(kb_dir):
        kb = entry["kb"]
        ingestor.catalog.create_kb(kb, KB_DESCRIPTIONS.get(kb, ""))
        result = ingestor.ingest_file(kb_dir / entry["path"], kb, DocumentMeta.model_validate(entry))
        results.append(result)
        if on_result:
            on_result(result)
    return results
