"""Which characters are Chinese (CJK ideographs): the one definition every text function uses.

Covers the unified ideographs, extension A and the compatibility ideographs; full-width Latin
letters and digits are not here (``normalize`` folds them to half-width first).
"""

from __future__ import annotations

import re

IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

CJK_CHAR = re.compile(f"[{IDEOGRAPHS}]")
CJK_RUN = re.compile(f"[{IDEOGRAPHS}]+")
CJK_PAIR_RUN = re.compile(f"[{IDEOGRAPHS}]{{2,}}")  # runs long enough to hold a character pair


def has_cjk(text: str) -> bool:
    return CJK_CHAR.search(text) is not None


def is_all_cjk(words: list[str]) -> bool:
    """True when every word holds Chinese (a run of them is written without spaces)."""
    return all(has_cjk(w) for w in words)
