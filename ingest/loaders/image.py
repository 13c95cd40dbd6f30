"""Pictures (PNG, JPG): a screenshot or a photo of an SOP, read by OCR and laid out like a PDF page."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from assistant.errors import IngestError
from ingest.loaders.base import LoadedDocument
from ingest.loaders.layout import blocks_from_lines, mean_confidence
from ingest.ocr import OcrUnavailable, read_by_ocr, shared_engine


def open_image(source: Path | IO[bytes], name: str):
    """A decoded picture, turned upright the way the camera was held; ``IngestError`` if it is none."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(source)
        image.load()
        return ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise IngestError(name, f"not a readable image ({type(exc).__name__}: {exc})") from exc


def load_image(path: Path) -> LoadedDocument:
    image = open_image(path, path.name)
    try:
        lines = shared_engine().read(image)
    except OcrUnavailable as exc:
        raise IngestError(path.name, f"a picture is read by OCR; {exc}") from exc
    if not lines:
        raise IngestError(path.name, "OCR found no text in the picture")
    title, blocks = blocks_from_lines(lines)
    confidence = mean_confidence((line.text, line.confidence) for line in lines) or 0.0
    return LoadedDocument(
        title=title or path.stem, blocks=blocks, warnings=read_by_ocr("the picture was", confidence)
    )
