"""DOCX with python-docx: Heading styles build the path, tables stay whole as rows, lists keep bullets."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.archive import check_zip
from ingest.loaders.base import Block, LoadedDocument

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


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

    def flush() -> None:
        if para:
            blocks.append(Block("text", "\n".join(para), [h for _, h in headings]))
            para.clear()

    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(element, document)
            text = p.text.strip()
            if not text:
                flush()
                continue
            level = _heading_level(p.style.name if p.style is not None else "")
            if level is not None:
                flush()
                if title is None and level <= 1:
                    title = text
                if level == 0:
                    continue
                headings[:] = [(lv, h) for lv, h in headings if lv < level] + [(level, text)]
            elif "list" in (p.style.name or "").lower():
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
    return LoadedDocument(title=title or core_title or path.stem, blocks=blocks)
