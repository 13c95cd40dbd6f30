"""Markdown: ATX headings build the heading path; pipe tables become table blocks."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.text import decode

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = re.compile(r"(\*\*|__|`)")


def _clean(line: str) -> str:
    return _INLINE.sub("", line).rstrip()


def _row(line: str) -> str:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return " | ".join(_clean(c) for c in cells)


def parse_markdown(text: str, fallback_title: str) -> LoadedDocument:
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    title: str | None = None
    para: list[str] = []
    table: list[str] = []

    def path() -> list[str]:
        return [h for _, h in headings]

    def flush_para() -> None:
        if para:
            blocks.append(Block("text", "\n".join(para), path()))
            para.clear()

    def flush_table() -> None:
        if table:
            header, rows = table[0], table[1:]
            blocks.append(Block("table", "\n".join(rows) if rows else header, path(), table_header=header))
            table.clear()

    in_code = False
    for raw in text.splitlines():
        if raw.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else _HEADING.match(raw)
        if heading:
            flush_para()
            flush_table()
            level, name = len(heading.group(1)), _clean(heading.group(2))
            if title is None and level == 1:
                title = name  # the document title heads every citation already
                continue
            headings[:] = [(lv, h) for lv, h in headings if lv < level] + [(level, name)]
            continue
        if _TABLE_ROW.match(raw) and not in_code:
            flush_para()
            if not _TABLE_RULE.match(raw):
                table.append(_row(raw))
            continue
        flush_table()
        if raw.strip():
            para.append(_clean(raw.strip()))
        else:
            flush_para()
    flush_para()
    flush_table()
    return LoadedDocument(title=title or fallback_title, blocks=blocks)


def load_markdown(path: Path) -> LoadedDocument:
    return parse_markdown(decode(path.read_bytes(), path.name), path.stem)
