"""Sentence splitting for Chinese, English and mixed text.

Chinese sentences end at 。！？；… (full- or half-width); English ones at . ! ? followed by a space
or the end - but not inside numbers ("3.5 元"), abbreviations like "e.g." or version numbers
("V3.2"). Line breaks end a sentence too: SOP lists and table rows are one item per line.
"""

from __future__ import annotations

import re

_ZH_END = "。！？；!?;…"
_CLOSERS = "”’」』）)】\"'"
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "mr.", "mrs.", "dr.", "no.", "vs.", "approx.", "inc.", "ltd.")

_SPLIT = re.compile(
    rf"""(
        [{_ZH_END}]+[{_CLOSERS}]*           # Chinese (or !?;) terminators, closing quotes
      | (?<![0-9A-Za-z]\.[0-9A-Za-z])(?<!\d) # not 3.5 / V3.2, nor a list number "1. "
        \.[{_CLOSERS}]*(?=\s|$)             # an English full stop before a space or the end
      | \n+                                  # a line break
    )""",
    re.VERBOSE,
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping each terminator with its sentence."""
    sentences: list[str] = []
    buf = ""
    pos = 0
    for match in _SPLIT.finditer(text):
        piece = text[pos : match.end()]
        pos = match.end()
        candidate = buf + piece
        if piece.rstrip().lower().endswith(_ABBREVIATIONS) and "\n" not in match.group(0):
            buf = candidate
            continue
        buf = ""
        if candidate.strip():
            sentences.append(candidate.strip())
    tail = buf + text[pos:]
    if tail.strip():
        sentences.append(tail.strip())
    return sentences
