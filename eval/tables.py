"""Eval results as text tables: Markdown for notes and READMEs, aligned columns for pipes and logs.

Both keep every character of every cell (nothing is cut to fit a width), so a table reads the same in
a terminal, in a file and after ``| less``. Cells are the strings of :func:`summary_rows` and
:func:`category_rows`; a metric that does not apply reads ``-``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

# (column, result group, key) of the summary table, in display order.
SUMMARY = [
    ("nDCG@10", "retrieval", "ndcg@10"),
    ("R@5", "retrieval", "recall@5"),
    ("R@20", "retrieval", "recall@20"),
    ("R@100", "retrieval", "recall@100"),
    ("MRR@10", "retrieval", "mrr@10"),
    ("contains", "answer", "contains"),
    ("F1", "answer", "f1"),
    ("cite P", "citation", "precision"),
    ("cite R", "citation", "recall"),
    ("refuse", "refusal", "rate_on_impossible"),
    ("false ref", "refusal", "false_refusal_rate"),
    ("p50 ms", "latency_ms", "p50"),
    ("p95 ms", "latency_ms", "p95"),
]
# (column, key) of the per-category table.
CATEGORY = [
    ("queries", "queries"),
    ("nDCG@10", "ndcg@10"),
    ("contains", "contains"),
    ("refuse", "rate_on_impossible"),
    ("false ref", "false_refusal_rate"),
]

Rows = list[list[str]]


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.1f}" if value >= 10 else f"{value:.3f}"


def summary_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], Rows]:
    """One row per result (dataset, mode, the main metrics)."""
    header = ["dataset", "mode", *[name for name, _, _ in SUMMARY]]
    rows = [[str(r["dataset"]), str(r["mode"]), *[fmt(r[group][key]) for _, group, key in SUMMARY]]
            for r in results]
    return header, rows


def category_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], Rows]:
    """One row per category of each result that has categories; no rows when none has."""
    header = ["dataset", "mode", "category", *[name for name, _ in CATEGORY]]
    rows = [
        [str(r["dataset"]), str(r["mode"]), category, *[fmt(figures.get(key)) for _, key in CATEGORY]]
        for r in results
        for category, figures in (r.get("categories") or {}).items()
    ]
    return header, rows


def markdown(header: Sequence[str], rows: Rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def aligned(header: Sequence[str], rows: Rows) -> str:
    """Columns separated by two spaces and padded to their widest cell, numbers right-aligned."""
    table = [list(header), *rows]
    widths = [max(width(row[i]) for row in table) for i in range(len(header))]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            gap = " " * (widths[i] - width(cell))
            padded.append(gap + cell if numeric[i] else cell + gap)
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == "-"
    return True
