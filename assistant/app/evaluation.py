"""The eval harness wired to the assistant: a private workspace per run, built from the settings.

    from assistant.app.evaluation import run_dataset
    runs = run_dataset("data/eval/demo", mode="all", limit=40)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.app.container import Services
from assistant.app.settings import Settings
from eval.runner import ModeRun, OpenWorkspace, run


def eval_workspace(base: Settings) -> OpenWorkspace:
    """Opens a workspace of ``base``'s settings in a data directory of its own, retrieving at least
    ``rank_depth`` candidates per stage (recall@100 needs 100)."""

    @contextmanager
    def open_workspace(data_dir: Path, rank_depth: int) -> Iterator:
        r = base.retrieval
        settings = base.with_updates(
            storage={"data_dir": data_dir, "database_url": None, "chroma_url": None},
            retrieval={"bm25_candidates": max(r.bm25_candidates, rank_depth),
                       "vector_candidates": max(r.vector_candidates, rank_depth)},
        )
        with Services(settings) as services:
            yield services

    return open_workspace


def run_dataset(dataset: Path | str, settings: Settings | None = None, **options) -> list[ModeRun]:
    """``eval.runner.run`` with a workspace of ``settings`` (default: the environment's)."""
    return run(dataset, eval_workspace(settings or Settings()), **options)
