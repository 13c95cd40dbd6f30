"""DOCX with python-docx: Heading styles build the path, tables stay whole as rows, lists keep bullets.

Pictures in the body (screenshots of a form, a scanned notice pasted in) are read by OCR and their
text takes the picture's place, under the heading the picture sits under.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.archive import check_zip
from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.image import open_image
from ingest.loaders.layout import Line, mean_confidence, unwrap
from ingest.ocr import OcrUnavailable, read_by_ocr, shared_engine

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"


class _Pictures:
    """Reads the pictures of one document by OCR, and remembers what to tell about them."""

    def __init__(self, document, name: str) -> None:
        self.document = document
        self.name = name
        self.read: dict[str, list[Line]] = {}  # by part: a picture used twice is read once
        self.unreadable = 0
        self.unavailable: OcrUnavailable | None = None

    def _lines(self, part) -> list[Line]:
        key = str(part.partname)
        if key not in self.read and self.unavailable is None:
            try:
                self.read[key] = shared_engine().read(open_image(io.BytesIO(part.blob), self.name))
            except IngestError:  # EMF/WMF drawings and the like: nothing Pillow can decode
                self.unreadable += 1
                self.read[key] = []
            except OcrUnavailable as exc:
                self.unavailable = exc
        return self.read.get(key, [])

    def block(self, element, headings: list[str]) -> Block | None:
        """The text of the pictures in a paragraph element, as a block under ``headings``; None if none."""
        related = self.document.part.related_parts
        parts = [related[rid] for blip in element.iter(_BLIP) if (rid := blip.get(_EMBED)) in related]
        lines = [line for part in parts for line in self._lines(part)]
        if not lines:
            return None
        text = "\n".join(unwrap(line.text for line in lines))
        return Block("text", text, headings, ocr_confidence=mean_confidence((x.text, x.confidence) for x in lines))

    def warnings(self) -> list[str]:
        found = [lines for lines in self.read.values() if lines]
        empty = len(self.read) - len(found) - self.unreadable
        notes = []
        if found:
            confidence = mean_confidence((x.text, x.confidence) for lines in found for x in lines) or 0.0
            notes += read_by_ocr(f"{len(found)} picture{'s were' if len(found) > 1 else ' was'}", confidence)
        if empty:
            notes.append(f"OCR found no text in {empty} picture{'s' if empty > 1 else ''}")
        if self.unreadable:
            notes.append(f"{self.unreadable} picture{'s' if self.unreadable > 1 else ''} in a format OCR cannot read")
        if self.unavailable is not None:
            notes.append(f"pictures were not read: {self.unavailable}")
        return notes


def _heading_level(style_name: str) -> int | None:
    if style_name.lower() == "title":
        return 0
    m = _HEADING_STYLE.match(style_name.strip())
    return int(m.group(1)) if m else None


def load_docx(path: Path) -> LoadedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(path, "DOCX")
    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise IngestError(path.name, f"cannot open DOCX: {exc}") from exc

    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    title: str | None = None
    para: list[str] = []
    pictures = _Pictures(document, path.name)
    style_names: dict[str | None, str] = {}  # python-docx looks a style up in O(styles) each time

    def style_of(element, p: Paragraph) -> str:
        style_id = element.style  # the paragraph's pStyle id (CT_P.style), None for the default style
        if style_id not in style_names:
            style_names[style_id] = (p.style.name if p.style is not None else "") or ""
        return style_names[style_id]

    def flush() -> None:
        if para:
            blocks.append(Block("text", "\n".join(para), [h for _, h in headings]))
            para.clear()

    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(element, document)
            text = p.text.strip()
            pictured = pictures.block(element, [h for _, h in headings])
            if pictured is not None:
                flush()
                if text:
                    para.append(text)
                    flush()
                blocks.append(pictured)
                continue
            if not text:
                flush()
                continue
            style = style_of(element, p)
            level = _heading_level(style)
            if level is not None:
                flush()
                if title is None and level <= 1:
                    title = text
                if level == 0:
                    continue
                headings[:] = [(lv, h) for lv, h in headings if lv < level] + [(level, text)]
            elif "list" in style.lower():
                para.append(f"- {text}")
            else:
                para.append(text)
        elif tag == "tbl":
            flush()
            rows = []
            for row in Table(element, document).rows:
                cells = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or cells[-1] != value:  # merged cells repeat their text
                        cells.append(value)
                rows.append(" | ".join(cells))
            if rows:
                blocks.append(
                    Block("table", "\n".join(rows[1:]) or rows[0], [h for _, h in headings], table_header=rows[0])
                )
    flush()
    core_title = (document.core_properties.title or "").strip()
    return LoadedDocument(title=title or core_title or path.stem, blocks=blocks, warnings=pictures.warnings())
