"""Choose the refusal floors from data: run once without refusing, then sweep the two thresholds.

The extractive answerer refuses when both the term coverage and the best vector similarity of the
evidence fall below their floors. This replays a dataset with refusal off, reads each query's
evidence from its trace, and reports how each pair of floors would have scored: refusal rate on
unanswerable questions, false refusals on answerable ones, and their balanced accuracy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Settings
from eval.dataset import load_dataset
from eval.runner import run

_EVIDENCE = re.compile(r"evidence: coverage=([\d.]+) similarity=([\d.]+|n/a)")


@dataclass(frozen=True)
class Point:
    coverage: float
    similarity: float | None
    impossible: bool


@dataclass(frozen=True)
class Floors:
    min_coverage: float
    min_similarity: float
    refusal_rate: float
    false_refusal_rate: float

    @property
    def balanced(self) -> float:
        return (self.refusal_rate + 1 - self.false_refusal_rate) / 2


def evidence_points(dataset_dir: Path, *, mode: str = "hybrid", limit: int | None = None) -> list[Point]:
    settings = Settings().model_copy(update={"min_term_coverage": 0.0, "min_vector_similarity": 0.0})
    dataset = load_dataset(dataset_dir, limit=limit)
    impossible = {q.id: q.is_impossible for q in dataset.queries}
    (mode_run,) = run(dataset_dir, mode=mode, limit=limit, settings=settings)
    points = []
    for record in mode_run.records:
        for note in record.trace.get("notes", []):
            match = _EVIDENCE.search(note)
            if match:
                sim = None if match.group(2) == "n/a" else float(match.group(2))
                points.append(Point(float(match.group(1)), sim, impossible[record.query_id]))
    return points


def sweep(points: list[Point], steps: int = 21) -> list[Floors]:
    grid = [i / (steps - 1) for i in range(steps)]
    answerable = [p for p in points if not p.impossible] or [None]
    unanswerable = [p for p in points if p.impossible] or [None]
    out = []
    for cov in grid:
        for sim in grid:
            def refused(p: Point) -> bool:
                return p.coverage < cov and (p.similarity is None or p.similarity < sim)

            rate = sum(refused(p) for p in unanswerable if p) / max(len([p for p in unanswerable if p]), 1)
            false = sum(refused(p) for p in answerable if p) / max(len([p for p in answerable if p]), 1)
            out.append(Floors(cov, sim, rate, false))
    return sorted(out, key=lambda f: (-f.balanced, f.false_refusal_rate))
