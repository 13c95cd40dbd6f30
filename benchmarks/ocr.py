"""OCR throughput on scanned SOP pages: how many pages a second a scanned PDF is read at.

    python benchmarks/ocr.py [--pages 3] [--runs 3]

Makes A4 pages of dense Chinese/English SOP text (about 26 lines of 10.5 pt text each, drawn as a
150 dpi scan with the CJK font the tests use), puts them in a PDF with no text layer, and loads it
through the real PDF loader a few times: render (pypdfium2) + OCR (RapidOCR, PP-OCRv4) + layout. It
also times the model load, rendering alone and OCR alone, and checks how much of the text came back
(character accuracy). Prints a table; the last line is
``ocr_pages_per_s=N ocr_s_per_page=N render_ms_per_page=N model_load_s=N char_accuracy=N``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import TOPICS, sentence  # noqa: E402
from ingest.loaders.pdf import RENDER_DPI, load_pdf  # noqa: E402
from ingest.ocr import shared_engine  # noqa: E402

LINES_PER_PAGE = 26
LINE_WIDTH = 33  # full-width characters that fit between the margins at 30 px


def _scans():
    """The scan maker of the OCR tests (loaded by path: a `tests` package from site-packages shadows ours)."""
    spec = importlib.util.spec_from_file_location("scans", ROOT / "tests" / "ingest" / "scans.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wrap(text: str) -> list[str]:
    """Cut a paragraph into printed lines the way a word processor would (Latin letters are half width)."""
    lines, line, width = [], "", 0.0
    for ch in text:
        w = 0.55 if ch.isascii() else 1.0
        if width + w > LINE_WIDTH:
            lines.append(line)
            line, width = "", 0.0
        line += ch
        width += w
    return lines + [line] if line else lines


def page_lines(rng: random.Random, number: int) -> list[str]:
    lines = [f"{'一二三四五六七八九十'[number % 10]}、{rng.choice(TOPICS)}规则"]
    while len(lines) < LINES_PER_PAGE:
        lines += _wrap("".join(sentence(rng) for _ in range(2)))
    return lines[:LINES_PER_PAGE]


def _accuracy(expected: str, got: str) -> float:
    a, b = "".join(expected.split()), "".join(got.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import pypdfium2

    scans = _scans()
    rng = random.Random(7)
    pages = [page_lines(rng, n) for n in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        pdf_path = scans.scanned_pdf(Path(tmp) / "bench-scan.pdf", pages)

        started = time.perf_counter()
        shared_engine().read(scans.page_image(["模型加载"], size=(400, 200)))
        model_load_s = time.perf_counter() - started

        pdf = pypdfium2.PdfDocument(str(pdf_path))
        images, render_ms = [], []
        for i in range(len(pdf)):
            started = time.perf_counter()
            images.append(pdf[i].render(scale=RENDER_DPI / 72).to_pil())
            render_ms.append((time.perf_counter() - started) * 1000)
        pdf.close()
        ocr_s, accuracies = [], []
        for image, lines in zip(images, pages):
            started = time.perf_counter()
            read = shared_engine().read(image)
            ocr_s.append(time.perf_counter() - started)
            accuracies.append(_accuracy("".join(lines), "".join(line.text for line in read)))

        per_run = []
        for _ in range(args.runs):
            started = time.perf_counter()
            load_pdf(pdf_path)
            per_run.append(args.pages / (time.perf_counter() - started))

    pages_per_s = statistics.median(per_run)
    accuracy = statistics.mean(accuracies)
    rows = [
        ("model load (once per process)", f"{model_load_s:.2f} s"),
        (f"render one page at {RENDER_DPI} dpi (median)", f"{statistics.median(render_ms):.0f} ms"),
        ("OCR one page (median)", f"{statistics.median(ocr_s):.2f} s"),
        (f"load a {args.pages}-page scanned PDF, median of {args.runs}", f"{pages_per_s:.3f} pages/s"),
        ("runs (pages/s)", " ".join(f"{r:.3f}" for r in per_run)),
        ("characters read back (difflib ratio)", f"{accuracy:.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(
        f"ocr_pages_per_s={pages_per_s:.3f} ocr_s_per_page={statistics.median(ocr_s):.2f} "
        f"render_ms_per_page={statistics.median(render_ms):.0f} model_load_s={model_load_s:.2f} "
        f"char_accuracy={accuracy:.3f}"
    )


if __name__ == "__main__":
    main()
