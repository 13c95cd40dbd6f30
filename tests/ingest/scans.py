"""Scanned pages made here: Chinese text drawn into a picture with a CJK font, then put in a PDF with no
text layer, a PNG, or a DOCX. Used by the OCR tests and by ``benchmarks/ocr.py``."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
A4_150_DPI = (1240, 1754)


def cjk_font() -> str:
    """A font file that draws Chinese; `make install` installs one (fonts-wqy-microhei)."""
    for path in FONT_PATHS:
        if Path(path).is_file():
            return path
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        listed = ""
    files = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()]
    if not files:
        raise RuntimeError("no Chinese font here: run `make install` (apt-get install fonts-wqy-microhei)")
    return files[0]


def page_image(lines: list[str], size: tuple[int, int] = A4_150_DPI, font_px: int = 30):
    """A white page with the lines printed on it, like a 150 dpi scan of 10.5 pt text."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(cjk_font(), font_px)
    y = int(font_px * 4)
    for line in lines:
        draw.text((int(font_px * 3.5), y), line, font=font, fill=0)
        y += int(font_px * 1.9)
    return image


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose pages are pictures of text only: no text layer at all."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        pdf.drawImage(ImageReader(page_image(lines)), 0, 0, width=A4[0], height=A4[1])
        pdf.showPage()
    pdf.save()
    return path


def png_bytes(lines: list[str], size: tuple[int, int] = (1000, 400)) -> bytes:
    out = io.BytesIO()
    page_image(lines, size=size).save(out, format="PNG")
    return out.getvalue()
