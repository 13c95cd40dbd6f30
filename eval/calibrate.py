"""Choose the refusal floors from data: run once without refusing, then sweep the two thresholds.

The extractive answerer refuses when both the term coverage and the best vector similarity of the
evidence fall below their floors. This replays a dataset with refusal off, reads each query's
evidence from its trace, and reports how each pair of floors would have scored: refusal rate on
unanswerable questions, false refusals on answerable ones, and their balanced accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eval.dataset import load_dataset
from eval.runner import OpenWorkspace, run


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


def evidence_points(
    dataset_dir: Path, open_workspace: OpenWorkspace, *, mode: str = "hybrid", limit: int | None = None
) -> list[Point]:
    """Each query's evidence, from a run whose refusal floors are off (``open_workspace`` sets them to 0)."""
    dataset = load_dataset(dataset_dir, limit=limit)
    impossible = {q.id: q.is_impossible for q in dataset.queries}
    (mode_run,) = run(dataset, open_workspace, mode=mode)
    points = []
    for record in mode_run.records:
        evidence = record.trace.get("evidence")
        if evidence is not None:  # FAQ matches and tool answers are not judged on evidence
            points.append(Point(evidence["coverage"], evidence["similarity"], impossible[record.query_id]))
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
