"""Latency of a full ask (hybrid retrieval + rerank + extractive answer) over a large knowledge base.

    python benchmarks/query_latency.py [--chunks 100000] [--queries 200]

Builds a synthetic but realistic mixed Chinese/English knowledge base, asks a fixed set of
queries (Chinese, English, mixed), and prints p50/p95 per stage. In the same run it times a naive
pipeline that scores BM25 with rank-bm25 (in-memory, whole-corpus scoring) over the same chunks.
The last line is ``p50_ms=N p95_ms=N naive_p95_ms=N``.
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
from assistant.domain import DocumentMeta  # noqa: E402
from assistant.text.tokenize import Tokenizer  # noqa: E402
from benchmarks.synthetic import passages, sentence  # noqa: E402
from ingest.loaders.base import Block, LoadedDocument  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def build(services: Services, n_chunks: int) -> list[str]:
    services.catalog.create_kb("bench")
    ingestor = services.ingestor()
    texts = passages(n_chunks, seed=7)
    per_doc = 20
    items = []
    for d in range(0, n_chunks, per_doc):
        blocks = [Block("text", t, [f"第{i + 1}节"]) for i, t in enumerate(texts[d : d + per_doc])]
        items.append((LoadedDocument(title=f"SOP {d // per_doc}", blocks=blocks), DocumentMeta(id=f"sop-{d // per_doc}"), f"sop-{d // per_doc}"))
    t0 = time.perf_counter()
    for start in range(0, len(items), 250):
        ingestor.ingest_batch(items[start : start + 250], "bench")
        done = min((start + 250) * per_doc, n_chunks)
        print(f"  built {done}/{n_chunks} chunks ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="reuse a built knowledge base")
    args = parser.parse_args()

    rng = random.Random(3)
    queries = [sentence(rng)[: rng.randint(8, 30)] for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        services = Services(Settings(storage={"data_dir": data_dir}, ingestion={"chunk_size": 2000})).open()
        texts = build(services, args.chunks) if services.catalog.count_chunks() == 0 else passages(args.chunks, seed=7)
        pipeline = services.default_pipeline
        for q in queries[:5]:
            pipeline.ask(q)  # warm-up
        totals, stages = [], {}
        for q in queries:
            t0 = time.perf_counter()
            answer = pipeline.ask(q)
            totals.append((time.perf_counter() - t0) * 1000)
            for stage, ms in answer.trace.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
        services.close()

        from rank_bm25 import BM25Okapi

        tokenize = Tokenizer().terms
        bm25 = BM25Okapi([tokenize(t) for t in texts])
        naive = []
        for q in queries:
            t0 = time.perf_counter()
            scores = bm25.get_scores(tokenize(q))
            top = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:20]
            _ = [texts[i] for i in top]
            naive.append((time.perf_counter() - t0) * 1000)

    print(f"{'stage':<14} {'p50 ms':>9} {'p95 ms':>9}")
    for stage, values in sorted(stages.items()):
        print(f"{stage:<14} {statistics.median(values):>9.2f} {percentile(values, 95):>9.2f}")
    print(f"{'full ask':<14} {statistics.median(totals):>9.2f} {percentile(totals, 95):>9.2f}")
    print(f"{'naive bm25':<14} {statistics.median(naive):>9.2f} {percentile(naive, 95):>9.2f}  (rank-bm25 keyword stage only)")
    print(f"p50_ms={statistics.median(totals):.1f} p95_ms={percentile(totals, 95):.1f} naive_p95_ms={percentile(naive, 95):.1f}")


if __name__ == "__main__":
    main()
