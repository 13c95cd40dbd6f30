"""PDF with pypdf: text per page (page numbers kept), headings recognised by how SOPs number them.

Pages with no extractable text (scans) are reported as warnings, never silently dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.base import Block, LoadedDocument

_LEVEL1 = re.compile(r"^(?:第[一二三四五六七八九十百\d]+[章部分]|[一二三四五六七八九十]+[、.．]|\d+[、.．]\s*\S|[IVX]+\.\s)")
_LEVEL2 = re.compile(r"^(?:[（(][一二三四五六七八九十\d]+[）)]|\d+\.\d+(?:\.\d+)*\s*\S|第[一二三四五六七八九十\d]+条)")
_ENDS_SENTENCE = re.compile(r"[。！？；!?;：:，,]$")
_ENDS_LINE = re.compile(r"[。！？；!?;：:]$")
_STARTS_ITEM = re.compile(r"^(?:[-•·●▪]|\d+[.、．)]|[（(]\d+[）)]|[一二三四五六七八九十]+[、.．])")
MAX_HEADING_CHARS = 40


def heading_level(line: str) -> int | None:
    """1 or 2 for a numbered heading line, None for body text."""
    if len(line) > MAX_HEADING_CHARS or _ENDS_SENTENCE.search(line):
        return None
    if _LEVEL2.match(line):
        return 2
    if _LEVEL1.match(line):
        return 1
    return None


def load_pdf(path: Path) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise IngestError(path.name, "the PDF is encrypted; upload an unprotected copy")
            except IngestError:
                raise
            except Exception as exc:
                raise IngestError(path.name, "the PDF is encrypted; upload an unprotected copy") from exc
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many types for broken files
        raise IngestError(path.name, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc

    blocks: list[Block] = []
    warnings: list[str] = []
    headings: list[tuple[int, str]] = []
    title: str | None = None
    meta_title = (reader.metadata.title if reader.metadata else None) or None
    para: list[str] = []

    for number, text in enumerate(pages, start=1):
        if not text.strip():
            warnings.append(f"page {number} has no extractable text (a scan?); it was skipped")
            continue
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if title is None:
                title = line
                continue
            level = heading_level(line)
            if level is not None:
                if para:
                    blocks.append(Block("text", "\n".join(para), [h for _, h in headings], page=number))
                    para = []
                headings[:] = [(lv, h) for lv, h in headings if lv < level] + [(level, line)]
                continue
            if para and not _ENDS_LINE.search(para[-1]) and not _STARTS_ITEM.match(line):
                # A line wrapped by the page width: glue it back to the line it continues.
                glue = " " if para[-1][-1:].isascii() and line[:1].isascii() else ""
                para[-1] = para[-1] + glue + line
            else:
                para.append(line)
        if para:  # a block never spans pages, so its page number is exact
            blocks.append(Block("text", "\n".join(para), [h for _, h in headings], page=number))
            para = []
    if not blocks:
        raise IngestError(path.name, "no extractable text on any page (a scanned PDF needs OCR first)")
    # The first line is the title a reader sees; PDF metadata titles are often "untitled" or a file name.
    return LoadedDocument(title=title or meta_title or path.stem, blocks=blocks, warnings=warnings)
