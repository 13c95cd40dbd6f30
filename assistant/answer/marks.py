"""Citation markers in answer text: ``[n]`` before a sentence's closing punctuation, as Chinese writes it."""

from __future__ import annotations

import re

SENTENCE_END = ("。", "！", "？", "；", ".", "!", "?", ";")
MARKER = re.compile(r"\[(\d{1,3})\]")


def mark(sentence: str, n: int) -> str:
    """``退款3至7个工作日到账。`` -> ``退款3至7个工作日到账[1]。``"""
    sentence = sentence.strip()
    if sentence.endswith(SENTENCE_END):
        return f"{sentence[:-1]}[{n}]{sentence[-1]}"
    return f"{sentence}[{n}]"


def shift_markers(text: str, offset: int) -> str:
    """Renumber every marker by ``offset`` (an answer placed after ``offset`` other sources)."""
    return MARKER.sub(lambda m: f"[{int(m.group(1)) + offset}]", text)
