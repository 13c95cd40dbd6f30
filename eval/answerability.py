"""Training and calibrating the answerability judgement from eval run files.

A run file (``assistant eval run --out``) keeps each question's evidence signals. Questions the
knowledge base cannot answer (``is_impossible``) are the negatives; answerable questions whose gold
document is among the top five retrieved are the positives (when retrieval missed, the judgement was
right to doubt, and the example would teach it the wrong thing); questions answered by a tool are
left out. Every dataset weighs the same, however many questions it has, so one large set does not
decide for the others. A threshold per language is then chosen: the one that refuses the most
unanswerable questions while refusing at most ``max_false_refusal`` of the answerable ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.answerability import SIGNALS, AnswerabilityModel
from eval.runfile import load_run

TOP = 5


@dataclass(frozen=True)
class Example:
    dataset: str
    question_id: str
    language: str
    signals: dict[str, float]
    answerable: bool


def examples(run_files: Iterable[Path]) -> list[Example]:
    """The labelled examples of every question row of the run files (every mode)."""
    out: list[Example] = []
    for path in run_files:
        run = load_run(path)
        dataset = run.meta.dataset.name if run.meta else str(run.results[0].get("dataset", path))
        for mode_rows in run.rows.values():
            for row in mode_rows:
                signals = (row.evidence or {}).get("signals")
                if not signals or row.tool_calls:
                    continue
                if not row.is_impossible and not set(row.retrieved[:TOP]) & set(row.relevant):
                    continue
                language = "en" if signals.get("english") else "zh"
                out.append(Example(dataset, row.id, language, signals, not row.is_impossible))
    return out


def dataset_weights(items: Sequence[Example]) -> list[float]:
    counts = Counter(e.dataset for e in items)
    return [len(items) / (len(counts) * counts[e.dataset]) for e in items]


def fit(items: Sequence[Example], *, signals: Sequence[str] = SIGNALS, l2: float = 1.0) -> AnswerabilityModel:
    model = AnswerabilityModel.fit(
        [e.signals for e in items], [int(e.answerable) for e in items], dataset_weights(items), signals=signals, l2=l2
    )
    model.trained_on = sorted({e.dataset for e in items})
    return model


def cross_validated(items: Sequence[Example], *, folds: int = 5, **options) -> list[float]:
    """Each example's probability from a model fitted without it (folds by question, every dataset mixed)."""
    probabilities = [0.0] * len(items)
    for fold in range(folds):
        train = [e for i, e in enumerate(items) if i % folds != fold]
        model = fit(train, **options)
        for i, e in enumerate(items):
            if i % folds == fold:
                probabilities[i] = model.probability(e.signals)
    return probabilities


@dataclass(frozen=True)
class Point:
    threshold: float
    refusal_rate: float | None  # on unanswerable questions
    false_refusal_rate: float | None  # on answerable ones


def curve(items: Sequence[Example], probabilities: Sequence[float], language: str, steps: int = 19) -> list[Point]:
    """Refusal and false refusal (dataset-weighted) at each threshold, for one language."""
    pairs = [(e, p) for e, p in zip(items, probabilities) if e.language == language]
    weights = dataset_weights([e for e, _ in pairs])
    points = []
    for k in range(1, steps + 1):
        t = k / (steps + 1)

        def rate(answerable: bool) -> float | None:
            chosen = [(w, p < t) for (e, p), w in zip(pairs, weights) if e.answerable == answerable]
            total = sum(w for w, _ in chosen)
            return sum(w for w, refused in chosen if refused) / total if total else None

        points.append(Point(round(t, 3), rate(False), rate(True)))
    return points


def choose_threshold(points: Sequence[Point], max_false_refusal: float) -> float:
    """The threshold refusing the most unanswerable questions within the false-refusal budget."""
    allowed = [p for p in points if (p.false_refusal_rate or 0.0) <= max_false_refusal]
    if not allowed:
        return points[0].threshold
    return max(allowed, key=lambda p: ((p.refusal_rate or 0.0), -p.threshold)).threshold


def per_dataset(items: Sequence[Example], probabilities: Sequence[float], thresholds: dict[str, float]) -> dict[str, dict]:
    """Refusal and false-refusal rates of each dataset at the chosen thresholds."""
    out: dict[str, dict] = {}
    for name in sorted({e.dataset for e in items}):
        rows = [(e, p < thresholds[e.language]) for e, p in zip(items, probabilities) if e.dataset == name]
        impossible = [refused for e, refused in rows if not e.answerable]
        answerable = [refused for e, refused in rows if e.answerable]
        out[name] = {
            "questions": len(rows),
            "refusal_rate": sum(impossible) / len(impossible) if impossible else None,
            "false_refusal_rate": sum(answerable) / len(answerable) if answerable else None,
        }
    return out
