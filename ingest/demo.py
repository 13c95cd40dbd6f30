"""The demo knowledge base shipped in ``data/kb`` (two KBs described by ``manifest.json``), and the
demo customers' IM identities (``data/erp/customers.json``), bound to their ERP customers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from assistant.domain import DocumentMeta
from assistant.storage.interfaces import Directory
from ingest.job import Ingestor, IngestResult

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_KB_DIR = DATA_DIR / "kb"
DEMO_CUSTOMERS = DATA_DIR / "erp" / "customers.json"
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


def load_bindings(directory: Directory, path: Path = DEMO_CUSTOMERS) -> int:
    """Bind the demo customers' IM identities to their ERP customers; returns how many bindings."""
    customers = json.loads(path.read_text(encoding="utf-8"))["customers"]
    count = 0
    for customer in customers:
        for identity in customer["im"]:
            directory.bind_customer(identity["platform"], identity["user_id"], customer["customer_id"])
            count += 1
    return count
