"""Does the evidence answer this question, or only share its words?

A small learned model judges it from a handful of signals that any knowledge base gives (no word of a
particular domain is in it): how much of the question the best passages and sentences cover, counting
the words the knowledge base knows at all apart from those it never mentions; how close in meaning the
nearest passage and, across languages, the nearest sentence are; whether a sentence holds the kind of
answer asked for. Logistic regression over standardised signals, fitted on the development sets by
``assistant eval train-answerability`` and shipped as a JSON file beside this module; a threshold per
language turns its probability into "answer" or "refuse" (``assistant eval calibrate`` shows the
trade-off each threshold makes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer.question import Question
from assistant.answer.selection import Candidate
from assistant.domain import Hit
from assistant.text.cjk import CJK_CHAR
from assistant.text.normalize import normalize

SIGNALS = (
    "coverage",  # weighted share of the question's terms in the best of the top passages (same language)
    "known_coverage",  # the same, over the terms the knowledge base mentions somewhere
    "unknown",  # weighted share of the question's terms the knowledge base never mentions
    "similarity",  # best cosine similarity of a top passage to the question
    "sentence",  # score of the best answering sentence (see ``selection``)
    "meaning",  # across languages: best similarity in meaning of a sentence to the question
    "cross_lingual",  # 1 when the best passages are in another language than the question
    "kind",  # 1 when the question asks for a kind of answer and the best sentence holds one
    "english",  # 1 for an English question
)
DEFAULT_MODEL = Path(__file__).with_name("answerability.json")
# A knowledge base of a few documents knows few words: not knowing a word of the question says less
# there. The share of unknown words counts in full from this many indexed chunks on.
KNOWN_VOCABULARY_CHUNKS = 200

DocFreq = Callable[[Sequence[str]], Mapping[str, int]]


def measure(
    question: Question,
    hits: Sequence[Hit],
    candidates: Sequence[Candidate],
    doc_freq: DocFreq | None = None,
    *,
    indexed: int | None = None,
    depth: int = 3,
) -> dict[str, float]:
    """The signals of one question and its top hits (``candidates``: the scored answer units;
    ``indexed``: how many chunks the knowledge base holds)."""
    english = question.language == "en"
    same = [h for h in hits[:depth] if not _foreign(question, h.chunk.text)]
    texts = [normalize(f"{h.chunk.section} {h.chunk.question or ''} {h.chunk.text}") for h in same]
    coverage = max((question.coverage(t, normalized=True) for t in texts), default=0.0)
    known, unknown_share = _known_terms(question, doc_freq)
    if indexed is not None:
        unknown_share *= min(1.0, indexed / KNOWN_VOCABULARY_CHUNKS)
    known_total = sum(question.weights[t] for t in known) or 1.0
    known_coverage = max(
        (sum(question.weights[t] for t in known if t in text) / known_total for text in texts), default=0.0
    ) if known else 0.0
    best = max(candidates, key=lambda c: c.score, default=None)
    meanings = [c.meaning for c in candidates if c.meaning is not None]
    similarity = max((h.scores["vector"] for h in hits[:5] if "vector" in h.scores), default=0.0)
    return {
        "coverage": coverage,
        "known_coverage": known_coverage,
        "unknown": unknown_share,
        "similarity": similarity,
        "sentence": best.score if best else 0.0,
        "meaning": max(meanings, default=0.0),
        "cross_lingual": 1.0 if hits and not same else 0.0,
        "kind": 1.0 if best is not None and question.kind not in (None, "yesno") and _holds_kind(question, best) else 0.0,
        "english": 1.0 if english else 0.0,
    }


def _foreign(question: Question, text: str) -> bool:
    from assistant.text.normalize import detect_language

    return (question.language == "en") != (detect_language(text[:300]) == "en")


def _holds_kind(question: Question, best: Candidate) -> bool:
    from assistant.answer.question import has_kind

    return has_kind(question.kind, best.text)


def _known_terms(question: Question, doc_freq: DocFreq | None) -> tuple[list[str], float]:
    """The question's terms the knowledge base mentions (a Chinese word counts as mentioned when one of
    its character pairs is), and the weighted share of those it never does."""
    terms = list(question.weights)
    if doc_freq is None or not terms:
        return terms, 0.0
    pairs = {t: [f"#{t[i:i + 2]}" for i in range(len(t) - 1)] for t in terms if CJK_CHAR.search(t) and len(t) >= 2}
    counts = doc_freq([*terms, *(p for ps in pairs.values() for p in ps)])
    known = [t for t in terms if counts.get(t, 0) > 0 or any(counts.get(p, 0) > 0 for p in pairs.get(t, ()))]
    unknown = sum(question.weights[t] for t in terms if t not in known) / question.total
    return known, unknown


@dataclass
class AnswerabilityModel:
    """Logistic regression over standardised signals, with a refusal threshold per language."""

    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]
    thresholds: dict[str, float] = field(default_factory=lambda: {"zh": 0.5, "en": 0.5})
    trained_on: list[str] = field(default_factory=list)

    def probability(self, signals: Mapping[str, float]) -> float:
        z = self.bias + sum(
            w * (signals.get(name, 0.0) - self.mean.get(name, 0.0)) / (self.scale.get(name, 1.0) or 1.0)
            for name, w in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def threshold(self, language: str) -> float:
        return self.thresholds.get("en" if language == "en" else "zh", 0.5)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> "AnswerabilityModel":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**{k: data[k] for k in ("weights", "bias", "mean", "scale", "thresholds", "trained_on") if k in data})

    def save(self, path: Path) -> None:
        data = {"signals": list(self.weights), **self.__dict__}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def fit(
        cls,
        rows: Sequence[Mapping[str, float]],
        labels: Sequence[int],
        sample_weights: Sequence[float] | None = None,
        *,
        signals: Sequence[str] = SIGNALS,
        l2: float = 1.0,
        iterations: int = 60,
    ) -> "AnswerabilityModel":
        """Fit by Newton's method (iteratively reweighted least squares) with an L2 penalty."""
        import numpy as np

        x = np.array([[row.get(s, 0.0) for s in signals] for row in rows], dtype=float)
        y = np.asarray(labels, dtype=float)
        w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, dtype=float)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        beta = np.zeros(z.shape[1])
        penalty = np.diag([l2] * (z.shape[1] - 1) + [0.0])
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
            gradient = z.T @ (w * (p - y)) + penalty @ beta
            hessian = (z * (w * p * (1 - p))[:, None]).T @ z + penalty
            step = np.linalg.solve(hessian, gradient)
            beta -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls(
            weights={s: float(b) for s, b in zip(signals, beta[:-1])},
            bias=float(beta[-1]),
            mean={s: float(m) for s, m in zip(signals, mean)},
            scale={s: float(v) for s, v in zip(signals, scale)},
        )
