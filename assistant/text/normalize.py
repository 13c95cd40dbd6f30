"""Normalisation: full-width to half-width, case, whitespace."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width), lower case, one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among CJK characters plus latin letters."""
    cjk = len(_CJK.findall(text))
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


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
