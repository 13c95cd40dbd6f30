"""Self-contained HTML report of an evaluation run (plots embedded as base64 PNG).

Uses matplotlib's object API with the Agg canvas (no pyplot global state, no display needed) and
writes a single HTML file without external assets. All dataset and model text is HTML-escaped.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eval.compare import flatten_metrics
from eval.dataset import Dataset
from eval.metrics import QueryRecord, contains, f1, generates_answers, ndcg_at_k
from eval.tables import category_rows

WORST_N = 20
MAIN_METRICS = (
    "retrieval.ndcg@10",
    "retrieval.recall@5",
    "retrieval.recall@20",
    "retrieval.mrr@10",
    "answer.contains",
    "answer.f1",
    "citation.precision",
    "citation.recall",
    "refusal.rate_on_impossible",
    "refusal.false_refusal_rate",
)
_MAX_TRACE_CHARS = 4000
_MAX_RETRIEVED_SHOWN = 10

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.null{color:#999}.gold{background:#e3f6e3}.bad{color:#b00}.ok{color:#070}
pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;max-height:20em;overflow:auto}
details{margin:.4em 0;border:1px solid #ddd;padding:.4em}
"""


def _fmt(value: float | None, digits: int = 4) -> str:
    return '<span class="null">n/a</span>' if value is None else f"{value:.{digits}f}"


def _png(fig: Figure, alt: str) -> str:
    """Render ``fig`` to an <img> tag with an embedded base64 PNG; ``alt`` says what it shows."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _grouped_bars(labels: list[str], series: dict[str, list[float | None]], title: str, ylabel: str) -> Figure:
    """A grouped bar chart: one group per label, one bar per series (null values drawn as gaps)."""
    fig = Figure(figsize=(max(6.0, 0.9 * len(labels) * max(1, len(series)) ** 0.5 + 2), 4))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        ax.bar(xs, [0.0 if v is None else v for v in values], width=width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if series:
        ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return fig


def _metrics_chart(results: Sequence[Mapping[str, Any]]) -> str:
    flats = {str(r.get("mode")): flatten_metrics(r) for r in results}
    metrics = [m for m in MAIN_METRICS if any(f.get(m) is not None for f in flats.values())]
    if not metrics:
        return "<p>No quality metric applies to this run.</p>"
    series = {mode: [flat.get(m) for m in metrics] for mode, flat in flats.items()}
    fig = _grouped_bars(metrics, series, "Main metrics by mode (missing bar = n/a)", "score")
    fig.axes[0].set_ylim(0, 1.05)
    return _png(fig, "Main metrics by mode: " + ", ".join(metrics))


def latency_stages(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The bars of the latency chart, each once: ``total`` (the runner's end-to-end time), then every
    pipeline stage any mode timed, in the order first seen. The pipeline's own ``total`` is the same
    span measured from inside, so it is not a stage of its own."""
    stages = ["total"]
    for r in results:
        stages += [s for s in r.get("stage_latency_ms", {}) if s not in stages]
    return stages


def _latency_chart(results: Sequence[Mapping[str, Any]]) -> str:
    labels = latency_stages(results)
    series: dict[str, list[float | None]] = {}
    for r in results:
        for pct in ("p50", "p95"):
            values = [r.get("latency_ms", {}).get(pct)]
            values += [r.get("stage_latency_ms", {}).get(s, {}).get(pct) for s in labels[1:]]
            series[f"{r.get('mode')} {pct}"] = values
    if all(v is None for vs in series.values() for v in vs):
        return "<p>No latency measured.</p>"
    chart = _grouped_bars(labels, series, "Latency p50 / p95 per mode and stage", "ms")
    return _png(chart, "Latency p50 / p95 per mode and stage: " + ", ".join(labels))


def _categories_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Per-category figures of every mode, one row per (mode, category)."""
    header, rows = category_rows(results)
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header[1:])
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{escape(c)}</td>' if i > 1 else f"<td>{escape(c)}</td>"
                         for i, c in enumerate(cells[1:])) + "</tr>"
        for cells in rows
    )
    return f"<h2>By category</h2><table><tr>{head}</tr>{body}</table>"


def _metrics_table(result: Mapping[str, Any]) -> str:
    counts = result.get("counts", {})
    rows = "".join(
        f'<tr><td>{escape(metric)}</td><td class="num">{_fmt(value)}</td></tr>'
        for metric, value in flatten_metrics(result).items()
    )
    count_text = ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in counts.items())
    return (
        f"<h3>Mode: {escape(str(result.get('mode')))}</h3>"
        f"<p>{escape(str(result.get('queries')))} queries"
        f"{' (' + count_text + ')' if count_text else ''}</p>"
        f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"
    )


def query_quality(record: QueryRecord, dataset: Dataset, answering: bool) -> float | None:
    """Quality of one query in [0, 1] used to rank the worst queries (None if nothing applies).

    Mean of the applicable parts: nDCG@10 (query has qrels), answer F1 (answerable query with
    gold answers, 0 when refused) and refusal correctness (1 if refused exactly when impossible).
    """
    query = dataset.query(record.query_id)
    parts: list[float] = []
    qrels = dataset.qrels.get(record.query_id)
    if qrels:
        parts.append(ndcg_at_k(record.ranked_doc_ids, qrels, 10))
    if answering:
        if query.answers and not query.is_impossible:
            parts.append(0.0 if record.refused else f1(record.answer_text, query.answers))
        parts.append(1.0 if record.refused == query.is_impossible else 0.0)
    return sum(parts) / len(parts) if parts else None


def worst_queries(records: Sequence[QueryRecord], dataset: Dataset, n: int = WORST_N) -> list[tuple[float, QueryRecord]]:
    """The ``n`` records with the lowest :func:`query_quality`, worst first (ties by query id)."""
    answering = generates_answers(records)
    scored = [(q, r) for r in records if (q := query_quality(r, dataset, answering)) is not None]
    scored.sort(key=lambda item: (item[0], item[1].query_id))
    return scored[:n]


def _trace_html(quality: float, record: QueryRecord, dataset: Dataset) -> str:
    query = dataset.query(record.query_id)
    gold = dataset.qrels.get(record.query_id, {})
    retrieved = list(dict.fromkeys(record.ranked_doc_ids))[:_MAX_RETRIEVED_SHOWN]
    retrieved_html = ", ".join(
        f'<span class="gold">{escape(d)}</span>' if d in gold else escape(d) for d in retrieved
    )
    if record.refused:
        verdict = '<span class="ok">refused correctly</span>' if query.is_impossible else '<span class="bad">refused</span>'
    elif query.is_impossible:
        verdict = '<span class="bad">answered an impossible question</span>'
    elif query.answers:
        ok = contains(record.answer_text, query.answers)
        verdict = '<span class="ok">contains gold</span>' if ok else '<span class="bad">wrong answer</span>'
    else:
        verdict = "no gold answer"
    rows = [
        ("question", escape(query.text)),
        ("conversation", "<br>".join(escape(t) for t in query.conversation) or "-"),
        ("expected answers", " | ".join(escape(a) for a in query.answers) or ("(impossible: should refuse)" if query.is_impossible else "-")),
        ("gold doc ids", ", ".join(f"{escape(d)} ({g})" for d, g in gold.items()) or "-"),
        (f"retrieved (top {_MAX_RETRIEVED_SHOWN}, gold highlighted)", retrieved_html or "-"),
        ("answer", escape(record.answer_text) or "-"),
        ("refused", f"{'yes' if record.refused else 'no'} &mdash; {verdict}"),
        ("cited doc ids", ", ".join(escape(d) for d in record.cited_doc_ids) or "-"),
        ("latency", f"{record.latency_ms:.1f} ms " + escape(json.dumps(record.stage_ms, ensure_ascii=False))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    trace = json.dumps(record.trace, ensure_ascii=False, indent=1, default=str)
    if len(trace) > _MAX_TRACE_CHARS:
        trace = trace[:_MAX_TRACE_CHARS] + "\n... (truncated)"
    trace_html = f"<pre>{escape(trace)}</pre>" if record.trace else ""
    return (
        f"<details><summary>{escape(record.query_id)} &mdash; quality {quality:.3f} &mdash; "
        f"{escape(query.text[:120])}</summary><table>{body}</table>{trace_html}</details>"
    )


def render_report(
    results: Sequence[Mapping[str, Any]],
    records_by_mode: Mapping[str, Sequence[QueryRecord]],
    dataset: Dataset,
) -> str:
    """Return the report HTML as a string (see :func:`write_report`)."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Evaluation report: {escape(dataset.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Evaluation report: {escape(dataset.name)}</h1>",
        f"<p>{len(dataset.queries)} queries, {len(dataset.corpus)} documents, modes: "
        f"{escape(', '.join(str(r.get('mode')) for r in results))}</p>",
        "<h2>Metrics</h2>",
        *(_metrics_table(r) for r in results),
        _categories_table(results),
        "<h2>Main metrics</h2>",
        _metrics_chart(results),
        "<h2>Latency</h2>",
        _latency_chart(results),
        f"<h2>Worst {WORST_N} queries per mode</h2>",
        "<p>Ranked by the mean of nDCG@10, answer F1 and refusal correctness (whichever apply).</p>",
    ]
    for mode, records in records_by_mode.items():
        worst = worst_queries(records, dataset)
        parts.append(f"<h3>Mode: {escape(str(mode))}</h3>")
        if not worst:
            parts.append("<p>No gradable query.</p>")
        parts.extend(_trace_html(q, r, dataset) for q, r in worst)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    results: Sequence[Mapping[str, Any]],
    records_by_mode: Mapping[str, Sequence[QueryRecord]],
    dataset: Dataset,
    path: str | Path,
) -> Path:
    """Write one self-contained HTML report to ``path`` (parent folders created) and return it.

    Contains a metrics table per mode, a bar chart of the main metrics with modes side by side, a
    latency chart (p50/p95 per mode and per stage) and the worst queries of each mode with their
    traces. ``results`` are :func:`eval.metrics.aggregate` dicts; records must belong to ``dataset``.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(results, records_by_mode, dataset), encoding="utf-8")
    return out
