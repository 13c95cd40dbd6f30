"""Comparison of result dicts and ``--fail-under`` threshold checks (pure functions).

A *result* is the dict produced by :func:`eval.metrics.aggregate` for one mode; a run over several
modes is a list of such dicts. Metrics are addressed by dotted paths such as
``retrieval.ndcg@10``, ``answer.f1``, ``latency_ms.p95`` or ``stage_latency_ms.rerank.p50``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

# Every metric path of the required result shape, in display order.
METRIC_PATHS: tuple[str, ...] = (
    "retrieval.ndcg@10",
    "retrieval.recall@5",
    "retrieval.recall@20",
    "retrieval.recall@100",
    "retrieval.mrr@10",
    "answer.contains",
    "answer.f1",
    "citation.precision",
    "citation.recall",
    "refusal.rate_on_impossible",
    "refusal.false_refusal_rate",
    "latency_ms.p50",
    "latency_ms.p95",
)
STAGE_PREFIX = "stage_latency_ms."
# Sections that are metadata, not metrics. Per-category figures are left out too: a category of a few
# questions moves by a whole question at a time, too coarse for --max-drop (see --by-question).
_NON_METRIC_SECTIONS = frozenset({"counts", "categories"})
# For these a threshold is a ceiling (value must not exceed it) instead of a floor.
_LOWER_IS_BETTER_PREFIXES = ("latency_ms.", STAGE_PREFIX, "refusal.false_refusal_rate")


class CompareRow(NamedTuple):
    """One line of a comparison: metric value in run ``a``, in run ``b``, and ``b - a``."""

    mode: str
    metric: str
    a: float | None
    b: float | None
    delta: float | None


@dataclass(frozen=True)
class Failure:
    """A threshold that a result does not meet; ``str(failure)`` is a readable message."""

    mode: str
    metric: str
    value: float | None
    threshold: float
    message: str

    def __str__(self) -> str:
        return self.message


def lower_is_better(metric: str) -> bool:
    """True for metrics where smaller is better (latencies, false refusal rate)."""
    return metric.startswith(_LOWER_IS_BETTER_PREFIXES)


def flatten_metrics(result: Mapping[str, Any]) -> dict[str, float | None]:
    """Map each metric path of one result to its value (None for a null metric).

    Only nested sections are metrics; top-level scalars (dataset, mode, queries) and the
    ``counts`` and ``categories`` sections are skipped. Order: required paths first, then any others as found.
    """
    flat: dict[str, float | None] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif node is None or (isinstance(node, (int, float)) and not isinstance(node, bool)):
            flat[prefix] = None if node is None else float(node)

    for section, value in result.items():
        if isinstance(value, Mapping) and section not in _NON_METRIC_SECTIONS:
            walk(str(section), value)
    ordered = {p: flat.pop(p) for p in METRIC_PATHS if p in flat}
    ordered.update(flat)
    return ordered


def _as_list(results: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(results, Mapping):
        return [results]
    return list(results)


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare(
    a: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    b: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> list[CompareRow]:
    """Compare two runs metric by metric; ``delta = b - a`` (None if either side is null).

    Two single results are compared directly, even across different modes (the row's mode then
    reads ``"<a mode> -> <b mode>"``). Lists are matched by mode; a mode present on one side only
    yields rows with None on the other side. Rows follow the order of ``a``'s modes, then ``b``'s.
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        mode_a, mode_b = str(a.get("mode", "")), str(b.get("mode", ""))
        label = mode_a if mode_a == mode_b else f"{mode_a} -> {mode_b}"
        pairs: list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]] = [(label, a, b)]
    else:
        by_mode_a = {str(r.get("mode", "")): r for r in _as_list(a)}
        by_mode_b = {str(r.get("mode", "")): r for r in _as_list(b)}
        modes = list(by_mode_a) + [m for m in by_mode_b if m not in by_mode_a]
        pairs = [(m, by_mode_a.get(m), by_mode_b.get(m)) for m in modes]

    rows: list[CompareRow] = []
    for mode, ra, rb in pairs:
        flat_a = flatten_metrics(ra) if ra is not None else {}
        flat_b = flatten_metrics(rb) if rb is not None else {}
        for metric in list(flat_a) + [m for m in flat_b if m not in flat_a]:
            va, vb = flat_a.get(metric), flat_b.get(metric)
            rows.append(CompareRow(mode, metric, va, vb, _delta(va, vb)))
    return rows


def resolve_metric(name: str, known: Iterable[str] = METRIC_PATHS) -> str:
    """Turn a bare metric name or dotted path into a full metric path.

    A known dotted path (or any ``stage_latency_ms.<stage>.p50|p95``) is returned as is; otherwise
    ``name`` must be the suffix (at a dot boundary) of exactly one known path. Raises
    ``ValueError`` listing the valid names when ``name`` is unknown or ambiguous.
    """
    paths = list(known)
    name = name.strip()
    if name in paths:
        return name
    if name.startswith(STAGE_PREFIX):
        parts = name[len(STAGE_PREFIX):].rsplit(".", 1)
        if len(parts) == 2 and parts[0] and parts[1] in ("p50", "p95"):
            return name
    matches = [p for p in paths if p.endswith("." + name)]
    valid = ", ".join(p for p in paths if not p.startswith(STAGE_PREFIX))
    valid += f", {STAGE_PREFIX}<stage>.p50|p95"
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"ambiguous metric {name!r}: matches {', '.join(matches)}; use the full path")
    raise ValueError(f"unknown metric {name!r}; valid metrics: {valid}")


def parse_fail_under(specs: Iterable[str], known: Iterable[str] | None = None) -> dict[str, float]:
    """Parse ``["ndcg@10=0.6", "answer.f1=0.5"]`` into ``{"retrieval.ndcg@10": 0.6, ...}``.

    Names are resolved with :func:`resolve_metric` against ``known`` (default: the required
    metric paths; pass ``flatten_metrics(result)`` keys to also match stage names). Raises ``ValueError`` for a spec without
    ``=``, a non-numeric threshold, or an unknown/ambiguous metric.
    """
    paths = list(METRIC_PATHS if known is None else dict.fromkeys([*METRIC_PATHS, *known]))
    thresholds: dict[str, float] = {}
    for spec in specs:
        name, sep, raw = spec.rpartition("=")
        if not sep or not name.strip() or not raw.strip():
            raise ValueError(f"bad threshold {spec!r}: expected METRIC=VALUE, e.g. ndcg@10=0.6")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"bad threshold {spec!r}: {raw.strip()!r} is not a number") from None
        thresholds[resolve_metric(name, paths)] = value
    return thresholds


def check_fail_under(
    result: Mapping[str, Any] | Sequence[Mapping[str, Any]], thresholds: Mapping[str, float]
) -> list[Failure]:
    """Return every threshold not met by ``result`` (one result or a list of per-mode results).

    A metric fails when it is below its threshold; for lower-is-better metrics (latencies, false
    refusal rate) the threshold is a ceiling and the metric fails when above it. A null or
    missing metric with a threshold is always a failure. An empty list means all checks passed.
    """
    failures: list[Failure] = []
    for res in _as_list(result):
        mode = str(res.get("mode", ""))
        flat = flatten_metrics(res)
        for metric, threshold in thresholds.items():
            value = flat.get(metric)
            where = f"[{mode}] {metric}"
            if metric not in flat:
                msg = f"{where}: metric missing from result (threshold {threshold:g})"
            elif value is None:
                msg = f"{where}: metric is null (not applicable to this run) but a threshold {threshold:g} is set"
            elif lower_is_better(metric) and value > threshold:
                msg = f"{where} = {value:.4g} is above the maximum {threshold:g}"
            elif not lower_is_better(metric) and value < threshold:
                msg = f"{where} = {value:.4g} is below the minimum {threshold:g}"
            else:
                continue
            failures.append(Failure(mode, metric, value, threshold, msg))
    return failures


def _is_latency(metric: str) -> bool:
    return metric.startswith(("latency_ms.", STAGE_PREFIX))


def check_max_drop(rows: Iterable[CompareRow], max_drop: float) -> list[Failure]:
    """Every quality metric that got worse from A to B by more than ``max_drop`` (latencies are left
    out: they measure the machine as much as the code). A metric present in A and missing in B fails."""
    failures: list[Failure] = []
    for row in rows:
        if _is_latency(row.metric) or row.a is None:
            continue
        where = f"[{row.mode}] {row.metric}"
        if row.b is None:
            failures.append(Failure(row.mode, row.metric, None, max_drop, f"{where}: {row.a:.4g} in A, missing in B"))
            continue
        worse = (row.b - row.a) if lower_is_better(row.metric) else (row.a - row.b)
        if worse > max_drop + 1e-12:
            failures.append(Failure(
                row.mode, row.metric, row.b, max_drop,
                f"{where} went from {row.a:.4g} to {row.b:.4g}, worse by {worse:.4f} (allowed {max_drop:g})",
            ))
    return failures
