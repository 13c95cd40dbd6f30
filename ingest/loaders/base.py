"""What a loader returns, and the dispatcher that picks a loader by file type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.errors import IngestError

BlockKind = Literal["text", "table", "faq"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # read by OCR


@dataclass
class Block:
    """A run of content under one heading path: a paragraph, a list, a table or one FAQ pair."""

    kind: BlockKind
    text: str
    headings: list[str] = field(default_factory=list)
    page: int | None = None
    question: str | None = None  # FAQ blocks
    table_header: str | None = None  # table blocks: repeated at the top of every table chunk
    ocr_confidence: float | None = None  # text read by OCR: its mean confidence (0-1); None for a text layer


@dataclass
class LoadedDocument:
    title: str
    blocks: list[Block]
    warnings: list[str] = field(default_factory=list)
    version: str | None = None
    effective_date: str | None = None


_VERSION = re.compile(r"(?:版本(?:号)?|version)\s*[:：]?\s*(v?\d+(?:\.\d+){0,3})", re.IGNORECASE)
_EFFECTIVE = re.compile(
    r"(?:生效日期|生效时间|effective(?:\s+date)?|施行日期)\s*[:：]?\s*(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)",
    re.IGNORECASE,
)


def sniff_version(text: str) -> tuple[str | None, str | None]:
    """Version and effective date written near the top of a document, if any."""
    head = text[:800]
    version = _VERSION.search(head)
    effective = _EFFECTIVE.search(head)
    v = version.group(1) if version else None
    if v and not v.lower().startswith("v"):
        v = "V" + v
    d = None
    if effective:
        d = re.sub(r"[年月/.]", "-", effective.group(1)).rstrip("日-")
        y, m, day = d.split("-")
        d = f"{y}-{int(m):02d}-{int(day):02d}"
    return (v.upper() if v else None), d


def supported_suffixes() -> tuple[str, ...]:
    return (
        ".pdf", ".docx", ".md", ".markdown", ".html", ".htm", ".txt", ".csv", ".xlsx", ".json",
        *IMAGE_SUFFIXES,
    )


def load_file(path: Path) -> LoadedDocument:
    """Load any supported file; raises ``IngestError`` naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise IngestError(path.name, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path.name, "the file is empty")
    if suffix == ".pdf":
        from ingest.loaders.pdf import load_pdf as loader
    elif suffix == ".docx":
        from ingest.loaders.docx import load_docx as loader
    elif suffix in (".md", ".markdown"):
        from ingest.loaders.markdown import load_markdown as loader
    elif suffix in (".html", ".htm"):
        from ingest.loaders.html import load_html as loader
    elif suffix == ".txt":
        from ingest.loaders.text import load_text as loader
    elif suffix in (".csv", ".xlsx", ".json"):
        from ingest.loaders.faq import load_faq as loader
    elif suffix in IMAGE_SUFFIXES:
        from ingest.loaders.image import load_image as loader
    else:
        raise IngestError(
            path.name, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(supported_suffixes())}"
        )
    doc = loader(path)
    if not any(b.text.strip() for b in doc.blocks):
        raise IngestError(path.name, "no text could be extracted")
    if doc.version is None or doc.effective_date is None:
        head = "\n".join(b.text for b in doc.blocks[:6])
        version, effective = sniff_version(doc.title + "\n" + head)
        doc.version = doc.version or version
        doc.effective_date = doc.effective_date or effective
    return doc
