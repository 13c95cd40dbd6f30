"""PDF with pypdf: text per page (page numbers kept), headings recognised by how SOPs number them.

A page with no text layer, or almost none (a scan, a screenshot printed to PDF), is rendered with
pypdfium2 and read by OCR (``ingest/ocr.py``); the warnings say which pages were, with their mean
confidence, and which held nothing OCR could read. Such a page is never silently dropped.
"""

from __future__ import annotations

import threading
from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.base import LoadedDocument
from ingest.loaders.layout import Line, blocks_from_lines, mean_confidence
from ingest.ocr import OcrUnavailable, read_by_ocr, shared_engine

# Fewer visible characters than this and the page is a scan: a stamp or a page number alone is
# not its content. OCR reads any text layer that is there as well, since it reads the rendering.
MIN_TEXT_LAYER_CHARS = 20
# Rendering, not extracting the scan's own images: pypdfium2 draws any page (strips, JBIG2 and CCITT
# scans, outlined fonts, several images) at the resolution OCR wants. Measured here on three A4
# pages scanned at 300 dpi: rendering them at 150 dpi took 0.10 s, pypdf's image extraction 0.43 s,
# and the 300 dpi images it returns are then shrunk again by the OCR.
RENDER_DPI = 150
# PDFium is not thread-safe: one page renders at a time in this process.
_PDFIUM_LOCK = threading.Lock()


def _needs_ocr(text: str) -> bool:
    return len("".join(text.split())) < MIN_TEXT_LAYER_CHARS


def _ocr_pages(path: Path, numbers: list[int]) -> dict[int, list[Line]]:
    """OCR'd lines of some pages (1-based numbers)."""
    import pypdfium2

    engine = shared_engine()
    lines: dict[int, list[Line]] = {}
    with _PDFIUM_LOCK:
        pdf = pypdfium2.PdfDocument(str(path))
    try:
        for number in numbers:
            with _PDFIUM_LOCK:
                image = pdf[number - 1].render(scale=RENDER_DPI / 72).to_pil()
            lines[number] = engine.read(image, page=number)
    finally:
        with _PDFIUM_LOCK:
            pdf.close()
    return lines


def _pages(numbers: list[int]) -> str:
    """"page 3", "pages 1-4, 7": runs of pages written as ranges."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    spans = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)
    return ("page " if len(numbers) == 1 else "pages ") + spans


def ocr_warnings(read: dict[int, list[Line]], pages: list[str]) -> list[str]:
    """What a knowledge manager should know about the pages that OCR read."""
    found = [n for n, lines in read.items() if lines]
    empty = [n for n, lines in read.items() if not lines and not pages[n - 1].strip()]
    warnings = []
    if found:
        confidence = mean_confidence((line.text, line.confidence) for n in found for line in read[n]) or 0.0
        were = "was" if len(found) == 1 else "were"
        warnings += read_by_ocr(f"{_pages(found)} had no text layer and {were}", confidence)
    if empty:
        has, it = ("has", "it was") if len(empty) == 1 else ("have", "they were")
        warnings.append(f"{_pages(empty)} {has} no extractable text and OCR found none; {it} skipped")
    return warnings


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

    scanned = [number for number, text in enumerate(pages, start=1) if _needs_ocr(text)]
    try:
        read = _ocr_pages(path, scanned) if scanned else {}
    except OcrUnavailable as exc:
        raise IngestError(path.name, f"{_pages(scanned)} {'is a scan' if len(scanned) == 1 else 'are scans'}; {exc}") from exc
    except Exception as exc:  # PDFium's errors on a page pypdf could parse, or the OCR's
        raise IngestError(path.name, f"cannot OCR {_pages(scanned)} ({type(exc).__name__}: {exc})") from exc

    lines: list[Line] = []
    for number, text in enumerate(pages, start=1):
        ocr_lines = read.get(number)
        if ocr_lines:
            lines.extend(ocr_lines)
        else:  # a text layer, or the few characters of one that OCR did not better
            lines.extend(Line(raw, number) for raw in text.splitlines())
    title, blocks = blocks_from_lines(lines)
    warnings = ocr_warnings(read, pages)
    if not blocks:
        raise IngestError(path.name, "no extractable text on any page, and OCR found none")
    meta_title = (reader.metadata.title if reader.metadata else None) or None
    # The first line is the title a reader sees; PDF metadata titles are often "untitled" or a file name.
    return LoadedDocument(title=title or meta_title or path.stem, blocks=blocks, warnings=warnings)
