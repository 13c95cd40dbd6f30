"""The retriever interface and what a retrieval run reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.domain import Hit, StageHit


class Retriever(Protocol):
    """BM25, vector and hybrid retrieval all answer the same call."""

    def search(self, query: str, *, kb_ids: Sequence[str], k: int) -> list[Hit]: ...


@dataclass
class Retrieval:
    """Hits plus what each stage saw and how long it took: the trace is built from this."""

    hits: list[Hit]
    stages: dict[str, list[StageHit]] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


def stage_view(hits: Sequence[Hit], stage: str, limit: int = 20) -> list[StageHit]:
    return [
        StageHit(
            chunk_id=h.chunk.id,
            doc_id=h.chunk.doc_id,
            score=round(h.scores.get(stage, h.score), 6),
            snippet=h.chunk.text[:80],
        )
        for h in hits[:limit]
    ]
