"""The question-answering pipeline: route, retrieve, fuse, rerank, answer, cite - top to bottom."""

from __future__ import annotations

import time
from collections.abc import Sequence

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.domain import Answer, Trace
from assistant.retrieve.base import stage_view
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.rerank import Reranker
from assistant.store.catalog import Catalog
from assistant.text.normalize import detect_language


class Pipeline:
    def __init__(
        self,
        catalog: Catalog,
        retriever: HybridRetriever,
        reranker: Reranker,
        answerer: ExtractiveAnswerer,
        *,
        top_k: int = 5,
        rerank_depth: int = 20,
        trace_depth: int = 20,
    ):
        self.catalog = catalog
        self.retriever = retriever
        self.reranker = reranker
        self.answerer = answerer
        self.top_k = top_k
        self.rerank_depth = rerank_depth
        self.trace_depth = trace_depth

    def ask(self, question: str, *, kb_ids: Sequence[str] | None = None) -> Answer:
        started = time.perf_counter()
        question = question.strip()
        kbs = self._route(kb_ids)
        trace = Trace(question=question, language=detect_language(question), kb_ids=kbs)

        depth = max(self.rerank_depth, self.top_k, self.trace_depth)
        retrieval = self.retriever.retrieve(question, kb_ids=kbs, k=depth, trace_depth=self.trace_depth)
        trace.stages.update(retrieval.stages)
        trace.timings_ms.update(retrieval.timings_ms)

        t0 = time.perf_counter()
        if self.reranker.can_judge(question):
            judged = retrieval.hits[: self.rerank_depth]
            reranked = self.reranker.rerank(question, judged, len(judged))
            trace.stages["reranked"] = stage_view(reranked, "rerank", self.trace_depth)
            hits = reranked[: self.top_k]
        else:
            hits = retrieval.hits[: self.top_k]
            trace.notes.append(f"rerank skipped: no reranker judges {trace.language!r} queries")
        trace.timings_ms["rerank"] = _ms(t0)

        t0 = time.perf_counter()
        answer = self.answerer.answer(question, hits)
        trace.timings_ms["answer"] = _ms(t0)
        trace.notes.extend(answer.trace.notes)
        trace.timings_ms["total"] = _ms(started)
        return answer.model_copy(update={"trace": trace})

    def _route(self, kb_ids: Sequence[str] | None) -> list[str]:
        """Search the KBs asked for (each must exist), or all of them."""
        if kb_ids:
            for kb in kb_ids:
                self.catalog.require_kb(kb)
            return list(dict.fromkeys(kb_ids))
        return [kb["name"] for kb in self.catalog.list_kbs()]


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
