"""Scoping a query to some knowledge bases: Chroma's metadata filter vs one collection per KB.

    python benchmarks/kb_scoping.py [--vectors 100000] [--kbs 10] [--queries 200]

Vectors are realistic, not random: real USE embeddings of synthetic customer-service passages,
expanded to the target count by small perturbations (so the collection has the clustered
structure of real text). Ground truth is an exact numpy search within the scoped KBs. Prints
recall@20 and p50/p95 latency for one KB and for two KBs; the last line is
``filter_recall=R filter_p95_ms=N per_kb_recall=R per_kb_p95_ms=N``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.embed.use import USEEmbedder  # noqa: E402
from benchmarks.synthetic import passages  # noqa: E402

K = 20


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--kbs", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5000, help="real embeddings to expand from")
    args = parser.parse_args()

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    rng = np.random.default_rng(5)
    embedder = USEEmbedder()
    seeds = embedder.embed_documents(passages(args.seeds, seed=11))
    base = seeds[rng.integers(0, len(seeds), args.vectors)]
    vectors = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kb_of = rng.integers(0, args.kbs, args.vectors)
    queries = embedder.embed_documents(passages(args.queries, seed=99))
    ids = [f"c{i}" for i in range(args.vectors)]

    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=ChromaSettings(anonymized_telemetry=False))
        shared = client.create_collection("all", metadata={"hnsw:space": "cosine"}, embedding_function=None)
        per_kb = {
            kb: client.create_collection(f"kb-{kb}", metadata={"hnsw:space": "cosine"}, embedding_function=None)
            for kb in range(args.kbs)
        }
        t0 = time.perf_counter()
        for i in range(0, args.vectors, 2000):
            sl = slice(i, i + 2000)
            shared.add(ids=ids[sl], embeddings=vectors[sl], metadatas=[{"kb": int(k)} for k in kb_of[sl]])
        for kb, col in per_kb.items():
            mask = np.where(kb_of == kb)[0]
            for i in range(0, len(mask), 2000):
                part = mask[i : i + 2000]
                col.add(ids=[ids[j] for j in part], embeddings=vectors[part])
        print(f"built {args.vectors} vectors twice in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

        rows = []
        for scope in ([1], [1, args.kbs - 1]):
            mask = np.isin(kb_of, scope)
            idx = np.where(mask)[0]
            results = {"filter": ([], []), "per-kb": ([], [])}
            for q in queries:
                truth = {ids[j] for j in idx[np.argsort(-(vectors[idx] @ q))[:K]]}
                where = {"kb": scope[0]} if len(scope) == 1 else {"kb": {"$in": scope}}
                t0 = time.perf_counter()
                got = shared.query(query_embeddings=[q], n_results=K, where=where, include=[])["ids"][0]
                results["filter"][0].append((time.perf_counter() - t0) * 1000)
                results["filter"][1].append(len(truth & set(got)) / K)
                t0 = time.perf_counter()
                merged = []
                for kb in scope:
                    r = per_kb[kb].query(query_embeddings=[q], n_results=K, include=["distances"])
                    merged.extend(zip(r["distances"][0], r["ids"][0]))
                got = [i for _, i in sorted(merged)[:K]]
                results["per-kb"][0].append((time.perf_counter() - t0) * 1000)
                results["per-kb"][1].append(len(truth & set(got)) / K)
            for name, (lat, rec) in results.items():
                rows.append((f"{len(scope)} KB", name, statistics.mean(rec), statistics.median(lat), p95(lat)))

    print(f"{'scope':<6} {'method':<8} {'recall@20':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for scope, name, rec, p50, q95 in rows:
        print(f"{scope:<6} {name:<8} {rec:>10.3f} {p50:>8.2f} {q95:>8.2f}")
    one = {name: (rec, q95) for scope, name, rec, _, q95 in rows if scope == "1 KB"}
    print(f"filter_recall={one['filter'][0]:.3f} filter_p95_ms={one['filter'][1]:.1f} "
          f"per_kb_recall={one['per-kb'][0]:.3f} per_kb_p95_ms={one['per-kb'][1]:.1f}")


if __name__ == "__main__":
    main()
