"""``assistant eval``: run a dataset through the pipeline, compare runs, gate CI on metrics.

The harness (``eval/``) knows datasets and metrics; ``assistant.app.evaluation`` gives it a private
workspace built from the settings, like the server's but in a temporary data directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from assistant.app.evaluation import eval_workspace, evaluate
from assistant.app.settings import load_settings

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval, answers, citations and refusal.")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # a message is one line, however narrow the pipe


def fail(problem: object) -> None:
    """An error on stderr, its text as given (a "[mode]" in it is not markup)."""
    err.print(f"[bold red]error:[/] {escape(str(problem))}", highlight=False)


def show_table(header: list[str], rows: list[list[str]], styles: list[list[str]] | None = None) -> None:
    """A table on stdout: drawn by rich in a terminal wide enough for every cell, else as aligned
    plain text (a pipe, a log, a narrow terminal), never with cells cut to "d…"."""
    from eval.tables import aligned

    table = Table(*header)
    for i, cells in enumerate(rows):
        row_styles = styles[i] if styles else [""] * len(cells)
        table.add_row(*(Text(cell, style=style) for cell, style in zip(cells, row_styles)))
    if console.is_terminal and Measurement.get(console, console.options, table).maximum <= console.width:
        console.print(table)
    else:
        print(aligned(header, rows))


def show_results(results: list[dict]) -> None:
    """The summary of each mode, then the figures of each category when the questions have them."""
    from eval.tables import category_rows, summary_rows

    show_table(*summary_rows(results))
    header, rows = category_rows(results)
    if rows:
        print()
        show_table(header, rows)


def _evaluate_deployment(dataset: Path, url: str, **options):
    """``eval run --api URL``: the deployment ingests and answers; a refusal of it is a clear exit 2."""
    import os

    from assistant.app.evaluation import evaluate_deployment
    from eval.remote import RemoteError

    key = os.environ.get("ASSISTANT_API_KEY", "")
    if not key:
        fail("--api needs an API key of an administrator or knowledge manager in ASSISTANT_API_KEY")
        raise typer.Exit(2)
    try:
        return evaluate_deployment(dataset, url, key, **options)
    except (RemoteError, httpx.HTTPError) as exc:
        fail(f"{url}: {exc}")
        raise typer.Exit(2)


def _read_run(path: Path):
    from eval.runfile import RunFileError, load_run

    try:
        return load_run(path)
    except RunFileError as exc:
        fail(exc)
        raise typer.Exit(2)


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
    api: Annotated[
        Optional[str],
        typer.Option(help="Run through a deployment's HTTP API at this URL (a server or a cluster's balancer) "
                          "instead of in this process; its API key from ASSISTANT_API_KEY."),
    ] = None,
) -> None:
    """Ingest a dataset into a fresh, isolated knowledge base and score every query.

    The --out file keeps one row per question (what it retrieved, answered, cited, why it refused,
    the time of each stage) and the run's settings, models, git commit and dataset; questions that
    name an order are answered against the demo ERP, started for the run.
    """
    from eval.compare import check_fail_under, parse_fail_under
    from eval.dataset import DatasetError
    from eval.runner import expand_modes

    try:
        expand_modes(mode)
        thresholds = parse_fail_under(fail_under or [])
    except ValueError as exc:
        fail(exc)
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
            if api:
                evaluation = _evaluate_deployment(dataset, api, mode=mode, limit=limit, progress=progress)
            else:
                evaluation = evaluate(dataset, settings, mode=mode, limit=limit, progress=progress)
        except DatasetError as exc:
            fail(exc)
            raise typer.Exit(2)
    runs = evaluation.runs
    results = [r.result for r in runs]
    show_results(results)
    if out:
        evaluation.file.write(out)
        print(f"results written to {out}")
    if report:
        from eval.report import write_report

        write_report(results, {r.result["mode"]: r.records for r in runs}, evaluation.dataset, report)
        print(f"report written to {report}")
    if thresholds:
        failures = check_fail_under(evaluation.file.summary, thresholds)
        for failure in failures:
            err.print(f"[red]✗[/] {escape(str(failure))}", highlight=False)
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
    by_question: Annotated[
        bool, typer.Option("--by-question", help="Also list the questions whose outcome changed, with counts.")
    ] = False,
) -> None:
    """Print the metric deltas from run A to run B (files written by `eval run --out`, of any version)."""
    from eval.compare import check_fail_under, check_max_drop, compare, parse_fail_under
    from eval.question_changes import question_changes, render
    from eval.tables import fmt

    first, second = _read_run(a), _read_run(b)
    try:
        thresholds = parse_fail_under(fail_under or [])
    except ValueError as exc:
        fail(exc)
        raise typer.Exit(2)
    for path, run in ((a, first), (b, second)):
        if by_question and not run.rows:
            fail(f"{path} has no per-question rows: it was written before run files kept them; "
                 "run `assistant eval run --out` again to compare question by question")
            raise typer.Exit(2)
    rows = compare(first.summary, second.summary)
    cells, styles = [], []
    for row in rows:
        delta = row.delta
        style = "" if delta is None or delta == 0 else ("green" if delta > 0 else "red")
        cells.append([row.mode, row.metric, fmt(row.a), fmt(row.b), "-" if delta is None else f"{delta:+.4f}"])
        styles.append(["", "", "", "", style])
    show_table(["mode", "metric", "A", "B", "delta"], cells, styles)
    if by_question:
        print()
        print(render(question_changes(first, second)), end="")
    failures = check_max_drop(rows, max_drop) if max_drop is not None else []
    if thresholds:
        failures += check_fail_under(second.summary, thresholds)
    for failure in failures:
        err.print(f"[red]✗[/] {escape(str(failure))}", highlight=False)
    if failures:
        raise typer.Exit(1)


@eval_app.command("table")
def table_command(results: Annotated[list[Path], typer.Argument(help="JSON files written by `eval run --out`.")]) -> None:
    """Print the results of one or more runs as one Markdown table (and one per category, if any)."""
    from eval.tables import category_rows, markdown, summary_rows

    rows = [result for path in results for result in _read_run(path).results]
    print(markdown(*summary_rows(rows)))
    header, by_category = category_rows(rows)
    if by_category:
        print()
        print(markdown(header, by_category))


@eval_app.command("calibrate")
def calibrate_command(
    dataset: Annotated[Optional[list[Path]], typer.Option("--dataset", help="Datasets with unanswerable queries (run now).")] = None,
    run_file: Annotated[Optional[list[Path]], typer.Option("--run", help="Run files made with the answerability model.")] = None,
    judge: Annotated[str, typer.Option(help="model: the answerability threshold per language; floors: the two floors.")] = "model",
    limit: Annotated[Optional[int], typer.Option(help="Only the first N queries of each dataset.")] = None,
    max_false_refusal: Annotated[float, typer.Option(help="The false-refusal rate a suggested threshold may cost.")] = 0.10,
    top: Annotated[int, typer.Option(help="How many floor pairs to show (floors).")] = 10,
) -> None:
    """The refusal trade-off: for each threshold, how many unanswerable questions are refused and how
    many answerable ones are refused by mistake, per language; and the threshold it suggests."""
    if judge == "floors":
        from eval.calibrate import evidence_points, sweep

        floors_off = eval_workspace(load_settings().with_updates(
            answering={"judge": "floors", "min_term_coverage": 0.0, "min_vector_similarity": 0.0}))
        points = [p for d in dataset or [] for p in evidence_points(d, floors_off, limit=limit)]
        if not any(p.impossible for p in points):
            err.print("[bold red]error:[/] no unanswerable queries (is_impossible) in these datasets: nothing to calibrate")
            raise typer.Exit(2)
        show_table(["min coverage", "min similarity", "refuse impossible", "false refusal", "balanced"],
                   [[f"{f.min_coverage:.2f}", f"{f.min_similarity:.2f}", f"{f.refusal_rate:.3f}",
                     f"{f.false_refusal_rate:.3f}", f"{f.balanced:.3f}"] for f in sweep(points)[:top]])
        return
    from eval.answerability import choose_threshold, curve, examples

    runs = list(run_file or [])
    settings = load_settings()
    for path in dataset or []:
        out = Path(tempfile.mkdtemp(prefix="assistant-calibrate-")) / f"{path.name}.json"
        evaluate(path, settings, mode="hybrid", limit=limit).file.write(out)
        runs.append(out)
    items = examples(runs)
    rows_by_id = _probabilities(runs)
    probabilities = [rows_by_id.get((e.dataset, e.question_id)) for e in items]
    usable = [(e, p) for e, p in zip(items, probabilities) if p is not None]
    if not any(not e.answerable for e, _ in usable):
        err.print("[bold red]error:[/] no unanswerable questions with a judgement in these runs: nothing to calibrate")
        raise typer.Exit(2)
    for language in ("zh", "en"):
        chosen = [(e, p) for e, p in usable if e.language == language]
        if not chosen:
            continue
        points = curve([e for e, _ in chosen], [p for _, p in chosen], language)
        suggested = choose_threshold(points, max_false_refusal)
        console.print(f"\n{language}: {len(chosen)} questions; suggested threshold {suggested:.2f} "
                      f"(most refusals with at most {max_false_refusal:.0%} false refusals)")
        show_table(["threshold", "refuse impossible", "false refusal"],
                   [[f"{p.threshold:.2f}" + (" *" if p.threshold == suggested else ""), _rate(p.refusal_rate),
                     _rate(p.false_refusal_rate)] for p in points])


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _probabilities(runs: list[Path]) -> dict[tuple[str, str], float]:
    from eval.runfile import load_run

    out: dict[tuple[str, str], float] = {}
    for path in runs:
        run = load_run(path)
        name = run.meta.dataset.name if run.meta else str(run.results[0].get("dataset"))
        for rows in run.rows.values():
            for row in rows:
                probability = (row.evidence or {}).get("probability")
                if probability is not None:
                    out[(name, row.id)] = probability
    return out


@eval_app.command("train-answerability")
def train_answerability_command(
    runs: Annotated[list[Path], typer.Argument(help="Run files (eval run --out) of development sets, any judge.")],
    out: Annotated[Path, typer.Option(help="Where to write the model.")] = Path("assistant/answer/answerability.json"),
    max_false_refusal: Annotated[float, typer.Option(help="False-refusal rate each language's threshold may cost.")] = 0.10,
) -> None:
    """Fit the answerability judgement on the evidence signals of eval runs and choose its thresholds."""
    from eval.answerability import (
        choose_threshold,
        cross_validated,
        curve,
        examples,
        fit,
        per_dataset,
    )

    items = examples(runs)
    if not any(not e.answerable for e in items) or not any(e.answerable for e in items):
        err.print("[bold red]error:[/] the runs need answerable and unanswerable questions with evidence signals")
        raise typer.Exit(2)
    probabilities = cross_validated(items)
    thresholds = {}
    for language in ("zh", "en"):
        if any(e.language == language for e in items):
            thresholds[language] = choose_threshold(curve(items, probabilities, language), max_false_refusal)
    model = fit(items)
    model.thresholds = {"zh": 0.5, "en": 0.5, **thresholds}
    model.save(out)
    console.print(f"trained on {len(items)} questions of {', '.join(model.trained_on)}; thresholds {model.thresholds}")
    console.print("cross-validated, at these thresholds:")
    show_table(["dataset", "questions", "refuse impossible", "false refusal"],
               [[name, str(v["questions"]), _rate(v["refusal_rate"]), _rate(v["false_refusal_rate"])]
                for name, v in per_dataset(items, probabilities, model.thresholds).items()])
    console.print(f"model written to {out}")


