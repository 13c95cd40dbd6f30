"""FAQ matching: a question that closely matches an FAQ question gets that FAQ's answer, cited whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.domain import Hit
from assistant.text.normalize import normalize


def _grams(text: str) -> set[str]:
    chars = "".join(ch for ch in normalize(text) if ch.isalnum())
    if len(chars) < 2:
        return {chars} if chars else set()
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def question_similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams after normalisation: robust to word order, punctuation
    and full-width forms, and language-neutral (works on Chinese, English and mixed text)."""
    ga, gb = _grams(a), _grams(b)
    if not ga or not gb:
        return 0.0
    return 2 * len(ga & gb) / (len(ga) + len(gb))


@dataclass(frozen=True)
class FaqHit:
    hit: Hit
    similarity: float


def best_faq_match(question: str, hits: Sequence[Hit], threshold: float, depth: int = 3) -> FaqHit | None:
    """The FAQ among the top hits whose question is closest to the user's, if close enough."""
    best: FaqHit | None = None
    for hit in hits[:depth]:
        if hit.chunk.kind != "faq" or not hit.chunk.question:
            continue
        sim = question_similarity(question, hit.chunk.question)
        if sim >= threshold and (best is None or sim > best.similarity):
            best = FaqHit(hit, sim)
    return best
