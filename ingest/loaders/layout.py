"""Lines laid out on pages (a PDF's text layer, an OCR'd scan or picture) turned into blocks.

The first line is the title; numbered headings build the heading path (``headings.py``); a line
wrapped by the page width is glued back to the line it continues, with no space between Chinese
characters. A block never spans pages, so its page number is exact, and it holds either text-layer
lines or OCR'd lines, never both, so its OCR confidence is the mean over all of its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.loaders.base import Block
from ingest.loaders.headings import find_headings, heading_name, push

_ENDS_LINE = re.compile(r"[。！？；!?;：:]$")
_STARTS_ITEM = re.compile(r"^(?:[-•·●▪]|\d+[.、．)]|[（(]\d+[）)]|[一二三四五六七八九十]+[、.．])")


@dataclass(frozen=True)
class Line:
    """One line of a page as a reader sees it."""

    text: str
    page: int | None = None
    confidence: float | None = None  # OCR'd lines only: the recogniser's mean character confidence


def glue(left: str, right: str) -> str:
    """Join two pieces of one line or sentence: a space between Latin words, none beside Chinese."""
    if not left or not right:
        return left + right
    return left + (" " if left[-1].isascii() and right[0].isascii() and left[-1] != " " else "") + right


def continues(previous: str, line: str) -> bool:
    """Whether ``line`` carries on the sentence that the page width cut ``previous`` short in."""
    return not _ENDS_LINE.search(previous) and not _STARTS_ITEM.match(line)


def unwrap(texts: Iterable[str]) -> list[str]:
    """Lines glued back into the sentences and list items they were cut from."""
    out: list[str] = []
    for text in texts:
        if out and continues(out[-1], text):
            out[-1] = glue(out[-1], text)
        else:
            out.append(text)
    return out


def mean_confidence(texts: Iterable[tuple[str, float | None]]) -> float | None:
    """The OCR confidence of some texts, weighted by their length; None when none was OCR'd."""
    scored = [(len(text), confidence) for text, confidence in texts if confidence is not None]
    chars = sum(n for n, _ in scored)
    return sum(n * c for n, c in scored) / chars if chars else None


def blocks_from_lines(lines: Sequence[Line]) -> tuple[str | None, list[Block]]:
    """The title (the first line) and the blocks of the lines after it, in reading order."""
    lines = [Line(line.text.strip(), line.page, line.confidence) for line in lines if line.text.strip()]
    if not lines:
        return None, []
    title, body = lines[0].text, lines[1:] or lines  # a single line is the content as well
    ranks = find_headings([line.text for line in body])
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    para: list[str] = []
    para_lines: list[Line] = []

    def flush() -> None:
        if para:
            blocks.append(
                Block(
                    "text",
                    "\n".join(para),
                    [h for _, h in headings],
                    page=para_lines[0].page,
                    ocr_confidence=mean_confidence((line.text, line.confidence) for line in para_lines),
                )
            )
        para.clear()
        para_lines.clear()

    for line, rank in zip(body, ranks):
        if para_lines and (
            para_lines[-1].page != line.page or (para_lines[-1].confidence is None) != (line.confidence is None)
        ):
            flush()
        if rank is not None:
            flush()
            push(headings, rank, heading_name(line.text))
            continue
        if para and continues(para[-1], line.text):
            para[-1] = glue(para[-1], line.text)
        else:
            para.append(line.text)
        para_lines.append(line)
    flush()
    return title, blocks
