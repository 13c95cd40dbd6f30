"""Numbered headings in text that has no styles: plain-text SOPs, PDF text layers, OCR'd pages.

Chinese SOPs number their headings the way official documents do (GB/T 9704):
第一章 > 一、 > （一） > 1. > （1）, with decimal outlines (1.1, 1.1.1) beside them. A line is a heading
when all of these hold:

- it starts with one of those markers;
- it reads as a name, not a sentence: at most ``MAX_HEADING_CHARS`` characters, no sentence
  punctuation inside it (。！？；) and none at its end (，、 or those), except a colon after a
  strong marker ("二、申请流程：");
- for the markers that lists use as well (1. 1、 1) （1）), it has body text of its own: it is not one
  of a run of items ("1. 登录账号后点击申请" followed by "2. 选择调班日期"), nor an item that a line
  ending in a colon introduces, nor a lone item with no text after it.

The rank orders the markers, so a heading path nests and pops as a reader expects: "（一）" under
"一、" nests, the next "二、" replaces both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_HEADING_CHARS = 40

_CN = "一二三四五六七八九十百零〇"


@dataclass(frozen=True)
class _Marker:
    pattern: re.Pattern[str]
    rank: int
    listlike: bool  # lists number their items this way too


_MARKERS = (
    _Marker(re.compile(rf"^第[{_CN}\d]+(?:章|部分|篇)"), 1, False),
    _Marker(re.compile(rf"^第[{_CN}\d]+节"), 2, False),
    _Marker(re.compile(rf"^[{_CN}]+[、.．]"), 3, False),
    _Marker(re.compile(r"^[IVX]+\.\s"), 3, False),
    _Marker(re.compile(rf"^[（(][{_CN}]+[）)]"), 4, False),
    _Marker(re.compile(rf"^第[{_CN}\d]+条"), 5, False),
    _Marker(re.compile(r"^\d+\.\d+\.\d+(?:\.\d+)*\s*\S"), 7, False),
    # "2.1 申请主体" or "2.1申请主体", but not "3.5元运费" or "1.5倍"
    _Marker(re.compile(r"^\d+\.\d+(?!\.\d)(?:\s+\S|[^\d\s.%％元天年月日时分秒个件次倍米克])"), 6, False),
    _Marker(re.compile(r"^\d+[、.．](?!\d)\s*\S"), 5, True),
    _Marker(re.compile(r"^(?:[（(]\d+[）)]|\d+[)）])\s*\S"), 8, True),
)

_SENTENCE_INSIDE = re.compile(r"[。！？；!?;]")
_ENDS_CLAUSE = re.compile(r"[。！？；!?;，,、]$")
_ENDS_COLON = re.compile(r"[：:]$")


def _marker(line: str) -> _Marker | None:
    return next((m for m in _MARKERS if m.pattern.match(line)), None)


def heading_rank(line: str) -> int | None:
    """The rank of a line shaped like a numbered heading (1 = chapter), ignoring its neighbours."""
    line = line.strip()
    marker = _marker(line)
    if marker is None or len(line) > MAX_HEADING_CHARS or _SENTENCE_INSIDE.search(line[:-1]):
        return None
    if _ENDS_CLAUSE.search(line) or (_ENDS_COLON.search(line) and marker.listlike):
        return None
    return marker.rank


def heading_name(line: str) -> str:
    """The heading as the path shows it: without a trailing colon."""
    return _ENDS_COLON.sub("", line.strip())


def find_headings(lines: Sequence[str]) -> list[int | None]:
    """For each line, its heading rank, or None for body text (see the module docstring).

    Blank lines are ignored when looking at a line's neighbours.
    """
    texts = [line.strip() for line in lines]
    filled = [i for i, text in enumerate(texts) if text]
    ranks: list[int | None] = [None] * len(texts)
    for position, i in enumerate(filled):
        rank = heading_rank(texts[i])
        if rank is None:
            continue
        marker = _marker(texts[i])
        if marker is not None and marker.listlike:
            before = texts[filled[position - 1]] if position > 0 else ""
            after = texts[filled[position + 1]] if position + 1 < len(filled) else ""
            after_marker = _marker(after)
            in_a_run = _marker(before) is marker or after_marker is marker
            # Body under it: plain text, a deeper heading, or a sentence numbered another way.
            has_body = bool(after) and (
                after_marker is None or after_marker.rank > marker.rank or heading_rank(after) is None
            )
            if in_a_run or _ENDS_COLON.search(before) or not has_body:
                continue
        ranks[i] = rank
    return ranks


def push(path: list[tuple[int, str]], rank: int, name: str) -> None:
    """Put a heading on the path: it replaces every heading of its rank or below."""
    path[:] = [(r, h) for r, h in path if r < rank] + [(rank, name)]
