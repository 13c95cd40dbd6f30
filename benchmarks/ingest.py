"""Ingestion throughput end to end (files -> both indexes -> catalog) against the raw embedder rate.

    python benchmarks/ingest.py [--docs 200] [--repeats 3]

Both rates are measured in the same run on the same chunk texts; medians over repeats.
The last line is ``chunks_per_s=N raw_embed_per_s=N ratio=R``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.app.container import Services  # noqa: E402
from assistant.app.settings import Settings  # noqa: E402
from benchmarks.synthetic import document  # noqa: E402
from ingest.job import embedding_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for i in range(args.docs):
            (folder / f"sop-{i:04d}.md").write_text(document(rng), encoding="utf-8")
        files = sorted(folder.glob("*.md"))

        e2e, raw, chunk_counts = [], [], []
        for r in range(args.repeats):
            services = Services(Settings(storage={"data_dir": Path(tmp) / f"data{r}"})).open()
            services.catalog.create_kb("bench")
            ingestor = services.ingestor()
            services.embedder.embed_documents(["warm-up"])

            t0 = time.perf_counter()
            results = ingestor.ingest_files(files, "bench")
            elapsed = time.perf_counter() - t0
            chunks = sum(res.chunks for res in results)
            assert all(res.status == "added" for res in results), [res.error for res in results if res.error]
            e2e.append(chunks / elapsed)
            chunk_counts.append(chunks)

            texts = [embedding_text(c) for d, _ in services.catalog.list_documents("bench") for c in services.catalog.chunks_of(d.id)]
            t0 = time.perf_counter()
            services.embedder.embed_documents(texts)
            raw.append(len(texts) / (time.perf_counter() - t0))
            services.close()

    e2e_m, raw_m = statistics.median(e2e), statistics.median(raw)
    print(f"{'run':>5} {'chunks':>8} {'end-to-end/s':>14} {'raw embed/s':>12} {'ratio':>7}")
    for i, (a, b, n) in enumerate(zip(e2e, raw, chunk_counts)):
        print(f"{i:>5} {n:>8} {a:>14.1f} {b:>12.1f} {a / b:>7.2f}")
    print(f"{'median':>5} {'':>8} {e2e_m:>14.1f} {raw_m:>12.1f} {e2e_m / raw_m:>7.2f}")
    print(f"chunks_per_s={e2e_m:.1f} raw_embed_per_s={raw_m:.1f} ratio={e2e_m / raw_m:.2f}")


if __name__ == "__main__":
    main()
