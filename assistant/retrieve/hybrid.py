"""Keyword, vector and hybrid retrievers over the two indexes, resolved through the catalog."""

from __future__ import annotations

import time
from collections.abc import Sequence

from assistant.domain import DocRef, Hit
from assistant.embed.base import Embedder
from assistant.retrieve.base import Retrieval, stage_view
from assistant.retrieve.fusion import (
    cap_per_document,
    reciprocal_rank_fusion,
    score_fusion,
)
from assistant.storage.interfaces import Catalog, KeywordIndex, VectorIndex, Visibility
from assistant.text.normalize import detect_language
from assistant.timing import elapsed_ms

MODES = ("bm25", "vector", "hybrid")
FUSIONS = ("scores", "rrf")
CAP_HEAD = 10
FUSION_DEPTH = 50  # cosine is scaled over this many candidates, however many were asked for


def keyword_reach(query: str, dense: list[tuple[str, float]], live: dict, depth: int = 10) -> float:
    """How much of the question's semantic neighbourhood keywords can see: the share of the nearest
    passages written in the question's language. An English question over Chinese SOPs finds only the
    few English passages by keyword, and they would crowd out the Chinese ones that answer it."""
    if not dense:
        return 1.0
    mine = detect_language(query) == "en"
    near = [live[cid].chunk.text[:200] for cid, _ in dense[:depth] if cid in live]
    if not near:
        return 1.0
    return sum((detect_language(text) == "en") == mine for text in near) / len(near)


class HybridRetriever:
    """Runs BM25 and/or vector search, fuses with RRF, and resolves hits in one catalog read.

    ``mode`` picks the candidate sources: ``bm25``, ``vector`` or ``hybrid`` (both, fused by
    ``fusion``: ``scores``, the default, or ``rrf``); at most ``per_document`` chunks of one document
    lead the list (its first ``CAP_HEAD``), so near-duplicates of one FAQ sheet cannot push the rest out.
    """

    def __init__(
        self,
        catalog: Catalog,
        keyword: KeywordIndex,
        vector: VectorIndex,
        embedder: Embedder,
        *,
        mode: str = "hybrid",
        bm25_candidates: int = 50,
        vector_candidates: int = 50,
        rrf_k: int = 60,
        bm25_weight: float = 1.0,
        vector_weight: float = 1.0,
        fusion: str = "scores",
        per_document: int = 2,
        gate: Visibility,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.catalog = catalog
        self.keyword = keyword
        self.vector = vector
        self.embedder = embedder
        self.mode = mode
        self.bm25_candidates = bm25_candidates
        self.vector_candidates = vector_candidates
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.vector_weight = vector_weight
        self.fusion = fusion
        self.per_document = per_document
        self.gate = gate

    def search(self, query: str, *, kb_ids: Sequence[str], k: int) -> list[Hit]:
        return self.retrieve(query, kb_ids=kb_ids, k=k).hits

    def retrieve(self, query: str, *, kb_ids: Sequence[str], k: int, trace_depth: int = 20) -> Retrieval:
        if not kb_ids:  # nothing the asker may read: nothing is searched (an index reads "no filter" as "all")
            return Retrieval(hits=[])
        timings: dict[str, float] = {}
        qvec = None
        if self.mode in ("vector", "hybrid"):
            t0 = time.perf_counter()
            qvec = self.embedder.embed_query(query)
            timings["embed_query"] = elapsed_ms(t0)
        with self.gate.reading():  # in this process: no purge between search and resolve
            as_of = self.catalog.snapshot()  # on any process: resolve as of before the search
            bm25, dense, fused, live = self._candidates(query, qvec, kb_ids, k, timings, as_of)
        return self._assemble(bm25, dense, fused, live, timings, trace_depth, k)

    def _candidates(
        self, query: str, qvec, kb_ids: Sequence[str], k: int, timings: dict[str, float], as_of: int
    ) -> tuple[list, list, list, dict]:
        bm25: list[tuple[str, float]] = []
        dense: list[tuple[str, float]] = []
        if self.mode in ("bm25", "hybrid"):
            t0 = time.perf_counter()
            bm25 = self.keyword.search(self.keyword.query_terms(query), kb_ids, max(k, self.bm25_candidates))
            timings["bm25"] = elapsed_ms(t0)
        if qvec is not None:
            t0 = time.perf_counter()
            dense = self.vector.search(qvec, kb_ids, max(k, self.vector_candidates))
            timings["vector"] = elapsed_ms(t0)

        t0 = time.perf_counter()
        live = self.catalog.resolve([cid for cid, _ in bm25] + [cid for cid, _ in dense], as_of=as_of)  # one version
        weights = [self.bm25_weight * keyword_reach(query, dense, live), self.vector_weight]
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([[cid for cid, _ in bm25], [cid for cid, _ in dense]], k=self.rrf_k, weights=weights)
        else:
            fused = score_fusion(bm25, dense, weights=weights, depth=FUSION_DEPTH)
        doc_of = {cid: item.chunk.doc_id for cid, item in live.items()}
        fused = cap_per_document(fused, doc_of, per_document=self.per_document, head=CAP_HEAD)
        timings["resolve"] = elapsed_ms(t0)
        return bm25, dense, fused, live

    def _assemble(
        self, bm25: list, dense: list, fused: list, live: dict, timings: dict[str, float], trace_depth: int, k: int
    ) -> Retrieval:
        t0 = time.perf_counter()
        bm25_scores = dict(bm25)
        dense_scores = dict(dense)
        hits: list[Hit] = []
        for cid, fused_score in fused:
            item = live.get(cid)
            if item is None:  # purged or replaced since the index saw it
                continue
            scores = {"fused": fused_score}
            if cid in bm25_scores:
                scores["bm25"] = bm25_scores[cid]
            if cid in dense_scores:
                scores["vector"] = dense_scores[cid]
            doc = DocRef(title=item.title, url=item.url, version=item.version, curated_by=item.curated_by)
            hits.append(Hit(chunk=item.chunk, score=fused_score, scores=scores, doc=doc))
        timings["fuse"] = elapsed_ms(t0)

        stages = {}
        if bm25:
            ranked = sorted((h for h in hits if "bm25" in h.scores), key=lambda h: -h.scores["bm25"])
            stages["bm25"] = stage_view(ranked, "bm25", trace_depth)
        if dense:
            ranked = sorted((h for h in hits if "vector" in h.scores), key=lambda h: -h.scores["vector"])
            stages["vector"] = stage_view(ranked, "vector", trace_depth)
        stages["fused"] = stage_view(hits, "fused", trace_depth)
        return Retrieval(hits=hits[: max(k, 1)], stages=stages, timings_ms=timings)

