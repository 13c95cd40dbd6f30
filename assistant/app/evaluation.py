"""The eval harness wired to the assistant: a private workspace per run, built from the settings.

    from assistant.app.evaluation import evaluate, run_dataset
    runs = run_dataset("data/eval/demo", mode="all", limit=40)
    evaluate("data/eval/demo", limit=40).file.write("demo.json")   # the run file, rows and metadata

A dataset whose questions name an order (``20240521-8892``, also in an earlier turn of a conversation)
gets the demo ERP, started for the run on a free port with the shipped seed and a token of its own:
the tool stage answers from known orders instead of waiting on whatever is, or is not, at
``ASSISTANT_ERP__BASE_URL``. Any other dataset runs with the order tools off, since none of its
questions could call them, and no run depends on a service outside it. The one exception is the
PostgreSQL keyword index (``ASSISTANT_STORAGE__KEYWORD=postgres`` with ``ASSISTANT_DATABASE_URL`` naming a
PostgreSQL server): a run's catalog and keyword index then live in a database made for it on that
server, dropped afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from assistant.app.container import Services
from assistant.app.settings import REPO, Settings
from assistant.storage.sql.engine import temporary_database
from assistant.tools.identifiers import order_numbers
from eval.dataset import Dataset, load_dataset
from eval.runfile import DatasetInfo, ModelNames, RunFile, RunMeta, git_state
from eval.runner import RANK_DEPTH, ModeRun, Progress, expand_modes, run, to_run_file

# The settings groups that change what a run measures, recorded in the run file.
RECORDED_GROUPS = ("models", "retrieval", "answering", "ingestion")


def asks_about_orders(dataset: Dataset) -> bool:
    """True when a question, an earlier turn of its conversation or its standalone form names an order."""
    return any(
        order_numbers(text)
        for q in dataset.queries
        for text in (q.text, *q.conversation, q.standalone or "")
    )


@contextmanager
def demo_erp(data_dir: Path, seed: Path) -> Iterator[tuple[str, str]]:
    """The demo ERP over ``seed``'s orders, served from a thread on a free port: yields (url, token)."""
    from assistant.app.erp_demo.service import (
        BackgroundServer,
        create_erp_app,
        open_demo_store,
    )

    token = secrets.token_urlsafe(16)
    store = open_demo_store(data_dir, seed)
    server = BackgroundServer(create_erp_app(store, token))
    try:
        yield server.start(), token
    finally:
        server.stop()
        store.close()


def eval_settings(base: Settings, rank_depth: int) -> Settings:
    """``base`` retrieving at least ``rank_depth`` candidates per stage (recall@100 needs 100), and
    reranking every candidate whatever it costs: a figure must not depend on how busy the machine was."""
    r = base.retrieval
    return base.with_updates(retrieval={"bm25_candidates": max(r.bm25_candidates, rank_depth),
                                        "vector_candidates": max(r.vector_candidates, rank_depth),
                                        "rerank_budget_ms": None})


class EvalWorkspaces:
    """Opens the private workspaces of eval runs (an ``eval.runner.OpenWorkspace``) from ``base``
    settings, each in a data directory of its own, and remembers the models and the ERP they used."""

    def __init__(self, base: Settings):
        self.base = base
        self.models = ModelNames(
            embedder=base.models.embedder, reranker=base.models.reranker, llm=[b.model for b in base.llm.backends]
        )
        self.erp = ""

    @contextmanager
    def __call__(self, data_dir: Path, rank_depth: int, dataset: Dataset) -> Iterator[Services]:
        settings = eval_settings(self.base, rank_depth).with_updates(
            storage={"data_dir": data_dir, "database_url": None, "chroma_url": None}
        )
        with ExitStack() as stack:
            if self.base.storage.keyword_engine == "postgres":
                # The keyword index is PostgreSQL's: each run gets a database of its own on that server.
                url = stack.enter_context(temporary_database(self.base.storage.url(), "eval"))
                settings = settings.with_updates(storage={"database_url": url, "keyword": "postgres"})
            if asks_about_orders(dataset):
                seed = self.base.erp.demo_seed
                url, token = stack.enter_context(demo_erp(data_dir, seed))
                settings = settings.with_updates(erp={"base_url": url, "token": SecretStr(token)})
                self.erp = f"demo ERP started by the runner, orders from {seed}"
            else:
                settings = settings.with_updates(erp={"base_url": None})
                self.erp = "off: no question names an order"
            services = stack.enter_context(Services(settings))
            yield services
            if "embedder" in services.__dict__:  # the loaded model's own name, when it was loaded
                self.models = self.models.model_copy(update={"embedder": services.embedder.name})


def eval_workspace(base: Settings) -> EvalWorkspaces:
    """The workspaces of eval runs over ``base``'s settings (see :class:`EvalWorkspaces`)."""
    return EvalWorkspaces(base)


def plain_settings(settings: Settings, groups: tuple[str, ...] = RECORDED_GROUPS) -> dict[str, Any]:
    """Some settings groups as plain JSON values. Secrets are left out, not masked: a ``SecretStr``
    field does not appear at all, whichever group it is added to."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return {name: plain(getattr(value, name)) for name in type(value).model_fields
                    if not isinstance(getattr(value, name), SecretStr)}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items() if not isinstance(v, SecretStr)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value if not isinstance(v, SecretStr)]
        if isinstance(value, Path):
            return str(value)
        return value

    return {group: plain(getattr(settings, group)) for group in groups}


@dataclass
class Evaluation:
    """A finished eval run: the dataset as run, each mode's results and records, and the run file."""

    dataset: Dataset
    runs: list[ModeRun]
    file: RunFile


def evaluate(
    dataset_dir: Path | str,
    settings: Settings | None = None,
    *,
    mode: str = "hybrid+rerank",
    limit: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Run a dataset in one or all modes and describe the run (settings, models, commit, dataset)."""
    settings = settings or Settings()
    modes = expand_modes(mode)
    dataset = load_dataset(dataset_dir, limit=limit)
    workspaces = eval_workspace(settings)
    started = datetime.now(timezone.utc)
    runs = run(dataset, workspaces, mode=mode, progress=progress)
    meta = RunMeta(
        date=started.isoformat(timespec="seconds"),
        dataset=DatasetInfo(
            name=dataset.name, path=str(Path(dataset_dir).resolve()), queries=len(dataset.queries),
            documents=len(dataset.corpus), categories=dataset.categories, limit=limit,
        ),
        modes=modes,
        git=git_state(REPO),
        models=workspaces.models,
        settings=plain_settings(eval_settings(settings, RANK_DEPTH)),
        erp=workspaces.erp,
    )
    return Evaluation(dataset=dataset, runs=runs, file=to_run_file(runs, meta))


def evaluate_deployment(
    dataset_dir: Path | str,
    url: str,
    api_key: str,
    *,
    mode: str = "hybrid+rerank",
    limit: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Run a dataset through a running deployment's HTTP API (``eval.remote``): its workers ingest the
    corpus into a knowledge base made for the run, its replicas answer. The run file says where."""
    from eval.remote import RemoteWorkspaces

    dataset = load_dataset(dataset_dir, limit=limit)
    started = datetime.now(timezone.utc)
    runs = run(dataset, RemoteWorkspaces(url, api_key), mode=mode, progress=progress)
    meta = RunMeta(
        date=started.isoformat(timespec="seconds"),
        dataset=DatasetInfo(
            name=dataset.name, path=str(Path(dataset_dir).resolve()), queries=len(dataset.queries),
            documents=len(dataset.corpus), categories=dataset.categories, limit=limit,
        ),
        modes=expand_modes(mode),
        git=git_state(REPO),
        settings={"deployment": url},  # its own settings and models: not known from here
        erp=f"the deployment's ({url})",
    )
    return Evaluation(dataset=dataset, runs=runs, file=to_run_file(runs, meta))


def run_dataset(dataset: Path | str, settings: Settings | None = None, **options) -> list[ModeRun]:
    """``eval.runner.run`` with a workspace of ``settings`` (default: the environment's)."""
    return run(dataset, eval_workspace(settings or Settings()), **options)
