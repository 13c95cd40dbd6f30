"""``assistant eval``: run a dataset through the pipeline, compare runs, gate CI on metrics.

The harness (``eval/``) knows datasets and metrics; ``assistant.app.evaluation`` gives it a private
workspace built from the settings, like the server's but in a temporary data directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from assistant.app.evaluation import eval_workspace
from assistant.app.settings import load_settings

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval, answers, citations and refusal.")
console = Console()
err = Console(stderr=True)

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


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.3f}"


def results_table(results: list[dict]) -> Table:
    table = Table("dataset", "mode", *[name for name, _, _ in SUMMARY])
    for r in results:
        table.add_row(r["dataset"], r["mode"], *[_fmt(r[group][key]) for _, group, key in SUMMARY])
    return table


@eval_app.command("run")
def run_command(
    dataset: Annotated[Path, typer.Option("--dataset", help="Folder in the BEIR layout (corpus, queries, qrels).")],
    mode: Annotated[str, typer.Option(help="bm25 | vector | hybrid | hybrid+rerank | all")] = "hybrid+rerank",
    limit: Annotated[Optional[int], typer.Option(help="Only the first N queries.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the JSON result here.")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Write an HTML report here.")] = None,
    fail_under: Annotated[Optional[list[str]], typer.Option(help="metric=value; exit 1 if below.")] = None,
    rerank_depth: Annotated[
        Optional[int],
        typer.Option(min=1, help="Passages the cross-encoder judges per English query (default: ASSISTANT_RETRIEVAL__RERANK_DEPTH, 20)."),
    ] = None,
) -> None:
    """Ingest a dataset into a fresh, isolated knowledge base and score every query."""
    from eval.compare import check_fail_under, parse_fail_under
    from eval.dataset import DatasetError
    from eval.runner import expand_modes, run

    try:
        expand_modes(mode)
        thresholds = parse_fail_under(fail_under or [])
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=err,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        settings = load_settings()
        if rerank_depth is not None:
            settings = settings.with_updates(retrieval={"rerank_depth": rerank_depth})
        try:
            runs = run(dataset, eval_workspace(settings), mode=mode, limit=limit, progress=progress)
        except DatasetError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2)
    results = [r.result for r in runs]
    console.print(results_table(results))
    payload = results[0] if mode != "all" else results
    if out:
        out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"results written to {out}")
    if report:
        from eval.dataset import load_dataset
        from eval.report import write_report

        write_report(results, {r.result["mode"]: r.records for r in runs}, load_dataset(dataset, limit=limit), report)
        console.print(f"report written to {report}")
    if thresholds:
        failures = check_fail_under(payload, thresholds)
        for failure in failures:
            err.print(f"[red]✗[/] {failure}")
        if failures:
            raise typer.Exit(1)


@eval_app.command("compare")
def compare_command(
    a: Path,
    b: Path,
    fail_under: Annotated[Optional[list[str]], typer.Option(help="metric=value checked on B.")] = None,
    max_drop: Annotated[
        Optional[float], typer.Option(help="Exit 1 if any quality metric is worse in B than in A by more than this.")
    ] = None,
) -> None:
    """Print the metric deltas from run A to run B."""
    from eval.compare import check_fail_under, check_max_drop, compare, parse_fail_under

    first, second = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    rows = compare(first, second)
    table = Table("mode", "metric", "A", "B", "delta")
    for row in rows:
        delta = row.delta
        style = "" if delta is None or delta == 0 else ("green" if delta > 0 else "red")
        table.add_row(row.mode, row.metric, _fmt(row.a), _fmt(row.b),
                      f"[{style}]{delta:+.4f}[/]" if delta is not None and style else _fmt(delta))
    console.print(table)
    failures = check_max_drop(rows, max_drop) if max_drop is not None else []
    if fail_under:
        try:
            thresholds = parse_fail_under(fail_under)
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2)
        failures += check_fail_under(second, thresholds)
    for failure in failures:
        err.print(f"[red]✗[/] {failure}", highlight=False)
    if failures:
        raise typer.Exit(1)


def markdown_table(results: list[dict]) -> str:
    """The summary table as Markdown, for READMEs and issue notes."""
    header = ["dataset", "mode", *[name for name, _, _ in SUMMARY]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [r["dataset"], r["mode"], *[_fmt(r[group][key]) for _, group, key in SUMMARY]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@eval_app.command("table")
def table_command(results: Annotated[list[Path], typer.Argument(help="JSON files written by `eval run --out`.")]) -> None:
    """Print the results of one or more runs as one Markdown table."""
    rows: list[dict] = []
    for path in results:
        payload = json.loads(path.read_text(encoding="utf-8"))
        rows.extend(payload if isinstance(payload, list) else [payload])
    print(markdown_table(rows))


@eval_app.command("calibrate")
def calibrate_command(
    dataset: Annotated[list[Path], typer.Option("--dataset", help="One or more datasets with unanswerable queries.")],
    limit: Annotated[Optional[int], typer.Option(help="Only the first N queries of each.")] = None,
    top: Annotated[int, typer.Option(help="How many floor pairs to show.")] = 10,
) -> None:
    """Sweep the refusal floors (term coverage, vector similarity) and rank them by balanced accuracy."""
    from eval.calibrate import evidence_points, sweep

    floors_off = eval_workspace(load_settings().with_updates(answering={"min_term_coverage": 0.0, "min_vector_similarity": 0.0}))
    points = [p for d in dataset for p in evidence_points(d, floors_off, limit=limit)]
    if not any(p.impossible for p in points):
        err.print("[bold red]error:[/] no unanswerable queries (is_impossible) in these datasets: nothing to calibrate")
        raise typer.Exit(2)
    table = Table("min coverage", "min similarity", "refuse impossible", "false refusal", "balanced")
    for f in sweep(points)[:top]:
        table.add_row(f"{f.min_coverage:.2f}", f"{f.min_similarity:.2f}", f"{f.refusal_rate:.3f}",
                      f"{f.false_refusal_rate:.3f}", f"{f.balanced:.3f}")
    console.print(table)
