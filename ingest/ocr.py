"""OCR for scans and pictures: RapidOCR with PP-OCRv4 (Chinese and English) on onnxruntime.

The detection and recognition models ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is
downloaded at run time. Loading them takes a second or two and some 100 MB, so the engine is loaded
lazily, when the first file needs it, and once per process (``shared_engine``). One recognition runs
at a time: RapidOCR keeps per-call settings on its instance, and onnxruntime already spreads one
image over every core, so the lock costs no throughput.

``read`` returns the text lines of an image in reading order: top to bottom, and left to right
within a row, the pieces of one row (which the detector often splits at wide gaps) joined into one
line. Each line keeps its recognition confidence (0-1).
"""

from __future__ import annotations

import itertools
import statistics
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.loaders.layout import Line, glue

if TYPE_CHECKING:
    from PIL.Image import Image

# The per-line direction classifier flipped 3 of 30 clean, upright Chinese lines here and the
# recogniser then read each as one wrong character, so it is off. A page fed into the scanner upside
# down reads as nothing at all (every line falls below RapidOCR's score threshold): such a page is
# read again turned round, which costs a blank page one more detection pass.
USE_DIRECTION_CLASSIFIER = False
MIN_SIDE = 16  # pixels: smaller pictures (icons, bullets, rules) hold no readable text
LOW_CONFIDENCE = 0.8  # below this mean, misread characters are likely enough to say so


class OcrUnavailable(RuntimeError):
    """The OCR package is not installed."""

    def __init__(self) -> None:
        super().__init__("OCR needs rapidocr-onnxruntime and opencv-python-headless: run `make install`")


@dataclass(frozen=True)
class _Piece:
    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @classmethod
    def of(cls, box: list[list[float]], text: str, score: float) -> _Piece:
        """A piece from RapidOCR's answer: the four corners of its box, its text, its confidence."""
        xs, ys = [x for x, _ in box], [y for _, y in box]
        return cls(text.strip(), float(score), min(xs), min(ys), max(xs), max(ys))


class OcrEngine:
    """Reads the text of an image; the model is loaded on first use, once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ocr = None

    @property
    def loaded(self) -> bool:
        """Whether the models are in memory (they are loaded by the first ``read``)."""
        return self._ocr is not None

    def _load(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable() from exc
        return RapidOCR()

    def read(self, image: Image, page: int | None = None) -> list[Line]:
        """The text lines of ``image`` in reading order, each with its confidence; [] when none."""
        if min(image.size) < MIN_SIDE:
            return []
        rgb = _flatten(image)
        pieces = self._pieces(rgb) or self._pieces(rgb.rotate(180))
        return [_join_row(row, page) for row in _rows(pieces)]

    def _pieces(self, rgb: Image) -> list[_Piece]:
        with self._lock:
            if self._ocr is None:
                self._ocr = self._load()
            result, _ = self._ocr(rgb, use_cls=USE_DIRECTION_CLASSIFIER)
        return [_Piece.of(box, text, score) for box, text, score in (result or []) if text.strip()]


_SHARED = OcrEngine()  # cheap to build: the model loads on the first read


def shared_engine() -> OcrEngine:
    """The process's OCR engine."""
    return _SHARED


def read_by_ocr(what: str, confidence: float) -> list[str]:
    """Loader warnings for text that OCR read: how sure it was, and whether to check the original."""
    notes = [f"{what} read by OCR (mean confidence {confidence:.2f})"]
    if confidence < LOW_CONFIDENCE:
        notes.append("the OCR confidence is low: check answers that quote this text against the original")
    return notes


def _flatten(image: Image) -> Image:
    """RGB on white: RapidOCR inverts transparent images, and reads RGB only from a PIL image."""
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _rows(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Pieces grouped into rows: a piece joins a row when most of its height overlaps the row's."""
    rows: list[list[_Piece]] = []
    for piece in sorted(pieces, key=lambda p: (p.top + p.bottom) / 2):
        if rows and any(_overlap(piece, other) > 0.5 * min(piece.height, other.height) for other in rows[-1]):
            rows[-1].append(piece)
            continue
        rows.append([piece])
    return [sorted(row, key=lambda p: p.left) for row in rows]


def _overlap(a: _Piece, b: _Piece) -> float:
    return min(a.bottom, b.bottom) - max(a.top, b.top)


def _join_row(row: list[_Piece], page: int | None) -> Line:
    height = statistics.median(p.height for p in row)
    text = row[0].text
    for before, piece in itertools.pairwise(row):
        # A gap wider than a character separates columns or cells: keep them apart.
        text = text + " " + piece.text if piece.left - before.right > height else glue(text, piece.text)
    chars = sum(len(p.text) for p in row)
    confidence = sum(len(p.text) * p.confidence for p in row) / chars
    return Line(text, page, confidence)
