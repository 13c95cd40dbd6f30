"""Plain text, in UTF-8 or the GBK/GB18030 family that Chinese Windows tools still write.

Numbered heading lines ("一、调班规则", "（一）", "1. 适用范围", "第一章 总则") build the heading path
the way Markdown headings do (the rules are in ``headings.py``); a numbered list inside a section
stays body text. The first line, when it reads as a title and is not a heading, is the title and not
body text.
"""

from __future__ import annotations

from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.headings import MAX_HEADING_CHARS, find_headings, heading_name, push

ENCODINGS = ("utf-8-sig", "gb18030", "big5")
_ENDS_SENTENCE = tuple("。！？；!?;：:，,.")


def decode(data: bytes, name: str) -> str:
    """Decode bytes trying UTF-8 first (strict), then GB18030 (a superset of GBK/GB2312), then Big5."""
    if b"\x00" in data[:4096]:
        raise IngestError(name, "this looks like a binary file, not text")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(name, "cannot decode the text: it is not UTF-8, GBK/GB18030 or Big5")


def _is_title(line: str) -> bool:
    return len(line) <= MAX_HEADING_CHARS and not line.endswith(_ENDS_SENTENCE)


def parse_text(text: str, fallback_title: str) -> LoadedDocument:
    lines = [line.rstrip() for line in text.splitlines()]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return LoadedDocument(title=fallback_title, blocks=[])
    ranks = find_headings(lines)
    title = lines[filled[0]].strip()[:100]
    if ranks[filled[0]] is not None:  # the text starts with its first section
        title = fallback_title
    elif len(filled) > 1 and _is_title(title):
        lines[filled[0]] = ""  # the title heads every citation already; it is not an answer
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("text", "\n".join(para), [h for _, h in headings]))
            para.clear()

    for line, rank in zip(lines, ranks):
        if rank is not None:
            flush()
            push(headings, rank, heading_name(line))
        elif line.strip():
            para.append(line)
        else:
            flush()
    flush()
    return LoadedDocument(title=title, blocks=blocks)


def load_text(path: Path) -> LoadedDocument:
    return parse_text(decode(path.read_bytes(), path.name), path.stem)
