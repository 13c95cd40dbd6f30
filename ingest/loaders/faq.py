"""FAQ sheets (CSV or XLSX): one row is one question/answer pair, one chunk."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.text import decode

QUESTION_COLUMNS = ("question", "q", "问题", "问", "标准问题", "常见问题")
ANSWER_COLUMNS = ("answer", "a", "答案", "答", "回答", "标准答案")
CATEGORY_COLUMNS = ("category", "分类", "类别", "topic")


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def rows_to_document(rows: list[list[str]], name: str, title: str) -> LoadedDocument:
    if not rows:
        raise IngestError(name, "the FAQ sheet is empty")
    header = [str(c or "") for c in rows[0]]
    qi, ai = _find(header, QUESTION_COLUMNS), _find(header, ANSWER_COLUMNS)
    if qi is None or ai is None:
        missing = [label for label, idx in (("question", qi), ("answer", ai)) if idx is None]
        raise IngestError(
            name,
            f"FAQ sheet is missing the {' and '.join(missing)} column(s); found columns: "
            f"{', '.join(h for h in header if h) or '(none)'}. Name them question/answer or 问题/答案.",
        )
    ci = _find(header, CATEGORY_COLUMNS)
    blocks, warnings = [], []
    for line_no, row in enumerate(rows[1:], start=2):
        cells = [str(c).strip() if c is not None else "" for c in row]
        q = cells[qi] if qi < len(cells) else ""
        a = cells[ai] if ai < len(cells) else ""
        if not q and not a:
            continue
        if not q or not a:
            warnings.append(f"row {line_no}: {'question' if not q else 'answer'} is empty; row skipped")
            continue
        headings = [cells[ci]] if ci is not None and ci < len(cells) and cells[ci] else []
        blocks.append(Block("faq", a, headings, question=q))
    if not blocks:
        raise IngestError(name, "the FAQ sheet has no complete question/answer rows")
    return LoadedDocument(title=title, blocks=blocks, warnings=warnings)


def curated_entry(question: str, answer: str) -> LoadedDocument:
    """One question and the answer a person wrote for it: an FAQ sheet of one row, built in memory."""
    return rows_to_document([["question", "answer"], [question, answer]], "curated entry", question.strip())


def _json_rows(path: Path) -> list[list[str]]:
    """A JSON FAQ: a list of objects (or {"faqs": [...]}) with question/answer keys."""
    import json

    try:
        data = json.loads(decode(path.read_bytes(), path.name))
    except json.JSONDecodeError as exc:
        raise IngestError(path.name, f"not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise IngestError(path.name, "a JSON FAQ must be a list of objects with question and answer keys")
    keys: list[str] = []
    for item in data:
        keys.extend(k for k in item if k not in keys)
    return [keys] + [[item.get(k) for k in keys] for item in data]


def load_faq(path: Path) -> LoadedDocument:
    if path.suffix.lower() == ".json":
        rows = _json_rows(path)
    elif path.suffix.lower() == ".xlsx":
        rows = _xlsx_rows(path)
    else:
        text = decode(path.read_bytes(), path.name)
        rows = [r for r in csv.reader(io.StringIO(text))]
    return rows_to_document(rows, path.name, path.stem)


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    from ingest.loaders.archive import check_zip

    check_zip(path, "XLSX")
    try:
        workbook = load_workbook(str(path), read_only=True, data_only=True)
    except Exception as exc:
        raise IngestError(path.name, f"cannot open XLSX: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
