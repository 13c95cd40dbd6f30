"""How far can fusion of the offline models go on a dataset? Prints nDCG@10 of each ranker and of RRF mixes.

    python -m eval.experiments.fusion_ceiling ../shared/eval/afqmc-faq [--limit N] [--cache DIR]

Scores whole corpus entries (no chunking) with: BM25 (rank-bm25 over our tokenizer, with and without
Chinese bigrams, and over single characters), the USE embedder, multilingual-e5 as passages
(asymmetric, what the index stores) and e5 with the query role on both sides (symmetric: question
against question, as in FAQ matching), then reciprocal-rank fusions of them at several k.
It answers "is there a better mix of what we ship?" before anyone builds one into the pipeline.
e5 embeds tens of texts a second here: a 4,000-entry corpus takes minutes, so vectors are cached.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from pathlib import Path

import numpy as np

from eval.dataset import load_dataset
from eval.metrics import ndcg_at_k

DEPTH = 100


def rrf(rankings: list[list[int]], k: int, depth: int = 50) -> list[int]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking[:depth]):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda d: -scores[d])


def top(scores: np.ndarray) -> list[int]:
    return list(np.argsort(-scores)[:DEPTH])


def cached(cache: Path, name: str, texts: list[str], embed) -> np.ndarray:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = np.asarray(embed(texts), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache", type=Path, default=Path(".assistant/experiments"))
    args = parser.parse_args(argv)

    from rank_bm25 import BM25Okapi

    from assistant.embed.e5 import E5Embedder
    from assistant.embed.use import USEEmbedder
    from assistant.text.tokenize import Tokenizer

    keyword_terms = Tokenizer().keyword_terms

    ds = load_dataset(args.dataset, limit=args.limit)
    queries = [q for q in ds.queries if ds.qrels.get(q.id)]
    docs = [f"{d.title} {d.text}".strip() for d in ds.corpus]
    ids = [d.id for d in ds.corpus]
    qtexts = [q.text for q in queries]

    runs: dict[str, list[list[int]]] = {}
    for label, terms in (
        ("bm25 words", lambda t: keyword_terms(t)),
        ("bm25 words+bigrams", lambda t: keyword_terms(t, bigrams=True)),
        ("bm25 characters", lambda t: [c for c in t if not c.isspace()]),
    ):
        bm25 = BM25Okapi([terms(d) or ["\u2205"] for d in docs])
        runs[label] = [top(bm25.get_scores(terms(q))) for q in qtexts]

    use = USEEmbedder()
    use_d = cached(args.cache, "use-doc", docs, use.embed_documents)
    use_q = cached(args.cache, "use-query", qtexts, lambda t: np.stack([use.embed_query(x) for x in t]))
    runs["use"] = [top(s) for s in use_q @ use_d.T]

    e5 = E5Embedder()
    as_query = lambda texts: np.stack([e5.embed_query(t) for t in texts])  # noqa: E731  (normalised already)
    e5_q = cached(args.cache, "e5-query", qtexts, as_query)
    e5_d = cached(args.cache, "e5-passage", docs, e5.embed_documents)
    runs["e5 passage"] = [top(s) for s in e5_q @ e5_d.T]
    e5_dq = cached(args.cache, "e5-doc-as-query", docs, as_query)
    runs["e5 symmetric"] = [top(s) for s in e5_q @ e5_dq.T]

    singles = list(runs)
    for k in (10, 60):
        for combo in itertools.chain(
            (("bm25 words+bigrams", "use"),),
            itertools.combinations(["bm25 words+bigrams", "use", "e5 passage", "e5 symmetric"], 3),
            (("bm25 characters", "bm25 words+bigrams", "use", "e5 symmetric"),),
        ):
            runs[f"rrf k={k}: " + " + ".join(combo)] = [
                rrf([runs[name][i] for name in combo], k) for i in range(len(queries))
            ]

    print(f"{ds.name}: {len(queries)} queries, {len(docs)} corpus entries")
    print(f"{'ranker':<78} {'nDCG@10':>8}")
    for name, rankings in runs.items():
        score = np.mean(
            [ndcg_at_k([ids[d] for d in r], ds.qrels[q.id], 10) for r, q in zip(rankings, queries)]
        )
        print(f"{name:<78} {score:>8.3f}")
        if name == singles[-1]:
            print()


if __name__ == "__main__":
    main()
