"""Processes for the scale-out tests, run as scripts (``python tests/scaleout_roles.py ROLE ...``).

The storage comes from the environment (``ASSISTANT_DATABASE_URL``, ``ASSISTANT_CHROMA_URL``, ...), as
for any replica. Each role prints JSON lines on stdout. Run as a script, never imported by the tests
(a site-packages ``tests`` package would shadow this one in a subprocess).

- ``replace SECONDS``: replace the document ``inv`` of ``kb1`` with version A, B, A, ... until then;
  sweeps retired chunks between replaces, so purges happen while the reader reads.
- ``query SECONDS``: ask the hybrid and the BM25 retrievers in turn, in a loop (its catalog reads slowed by 50 ms, to widen
  the window a switch can land in); one line per query: the versions the hits' documents show and the
  version markers their texts carry.
- ``big DOC_ID CHUNKS``: write a document of about CHUNKS chunks to a file and print its path.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from assistant.app.container import Services
from assistant.app.settings import Settings
from assistant.domain import DocumentMeta

QUESTION = "开票时间 发票抬头 税号"
MARKER = re.compile(r"版本标记([AB])")


def version_text(version: str) -> str:
    sections = [
        f"## 开票时间\n版本标记{version}：确认收货后{'48' if version == 'A' else '24'}小时内开具电子发票。",
        f"## 发票抬头\n版本标记{version}：个人抬头填写姓名，企业抬头填写公司全称{version}。",
        f"## 税号\n版本标记{version}：企业开票必须提供税号或统一社会信用代码（第{version}版）。",
        f"## 换开发票\n版本标记{version}：发票开错可在30天内申请换开，发票抬头与税号需重新核对。",
    ]
    return f"# 开票规范\n版本：{version}\n\n" + "\n\n".join(s + "\n" + "开票说明。" * 80 for s in sections)


def replace(seconds: float) -> None:
    with Services(Settings()) as services:
        services.catalog.create_kb("kb1")
        ingestor = services.ingestor()
        path = Path(services.settings.storage.data_dir) / "inv.md"
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            version = "AB"[n % 2]
            path.write_text(version_text(version), encoding="utf-8")
            result = ingestor.ingest_file(path, "kb1", DocumentMeta(id="inv", version=version))
            print(json.dumps({"version": version, "status": result.status, "chunks": result.chunks}), flush=True)
            ingestor.janitor.sweep_leftovers()
            n += 1


def query(seconds: float) -> None:
    with Services(Settings()) as services:
        resolve = services.catalog.resolve

        def slow_resolve(ids, **kwargs):  # widen the window between search and resolve, as a busy database would
            ids = list(ids)
            time.sleep(0.05)
            return resolve(ids, **kwargs)

        services.catalog.resolve = slow_resolve
        retrievers = [services.retriever("hybrid"), services.retriever("bm25")]
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            retriever = retrievers[n % 2]
            n += 1
            hits = [h for h in retriever.search(QUESTION, kb_ids=["kb1"], k=20) if h.chunk.doc_id == "inv"]
            print(json.dumps({
                "mode": retriever.mode,
                "hits": len(hits),
                "versions": sorted({h.doc.version for h in hits}),
                "markers": sorted({m for h in hits for m in MARKER.findall(h.chunk.text)}),
            }), flush=True)


def big(doc_id: str, chunks: int, folder: str) -> None:
    path = Path(folder) / f"{doc_id}.md"
    sections = [f"## 第{i}节 退款规则\n第{i}节：订单退款在审核通过后三到七个工作日原路退回。" + "退款说明。" * 70
                for i in range(chunks)]
    path.write_text("# 退款大全\n\n" + "\n\n".join(sections), encoding="utf-8")
    print(json.dumps({"path": str(path)}), flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "replace":
        replace(float(args[0]))
    elif role == "query":
        query(float(args[0]))
    elif role == "big":
        big(args[0], int(args[1]), args[2])
    else:
        raise SystemExit(f"unknown role {role!r}")
