"""Normalisation: full-width to half-width, case, whitespace; and which language a text is in."""

from __future__ import annotations

import re
import unicodedata

from assistant.text.cjk import CJK_CHAR

_SPACES = re.compile(r"\s+")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width), lower case, one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among CJK characters plus latin letters."""
    cjk = len(CJK_CHAR.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text)) / 4  # ~4 letters weigh like one hanzi
    total = cjk + latin
    return cjk / total if total else 0.0


def detect_language(text: str) -> str:
    """'zh', 'en' or 'mixed' - enough to route a query to models that can judge it."""
    ratio = cjk_ratio(text)
    if ratio >= 0.7:
        return "zh"
    if ratio <= 0.1:
        return "en"
    return "mixed"
