"""The ``assistant`` command line: commands read like sentences.

    assistant ingest data/kb/support --kb support
    assistant ask "电子发票怎么开？" --json
    assistant serve --load-demo

A command that reads or writes the knowledge bases opens the storage itself, or, when a server owns
the embedded data directory, sends the work to that server (``ask`` and ``ingest``, with the key the
first start left in ``<data dir>/cli.key``) or says who holds it. Accounts, permissions and the audit
log live in the database only: those commands (``cli_admin``) run beside a server.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
)
from rich.table import Table

from assistant.app.audit_trail import Actor
from assistant.app.auth import CLI_KEY_FILE, LOCAL
from assistant.app.cli_admin import register as register_admin
from assistant.app.cli_cluster import cluster_app
from assistant.app.cli_rules import routing_app
from assistant.app.settings import load_settings
from assistant.domain import Answer, DocumentMeta
from assistant.errors import AssistantError, DataDirLocked

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Customer-service knowledge assistant.")
kb_app = typer.Typer(no_args_is_help=True, help="Create, list and delete knowledge bases.")
docs_app = typer.Typer(no_args_is_help=True, help="List and delete documents.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema: migrations.")
app.add_typer(kb_app, name="kb")
app.add_typer(docs_app, name="docs")
app.add_typer(db_app, name="db")

register_admin(app, kb_app)
app.add_typer(routing_app, name="rules")
app.add_typer(cluster_app, name="cluster")

console = Console()
err = Console(stderr=True)
LOCAL_ACTOR = Actor(LOCAL, "cli")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


class ServerOwnsData(Exception):
    """A server holds the embedded data directory; its URL is where to send the work."""

    def __init__(self, url: str):
        self.url = url


@contextmanager
def opened(*, forward: bool = False) -> Iterator:
    """The storage, opened for this command. With ``forward``, a server holding the data directory
    raises ``ServerOwnsData`` (the caller sends the work there); otherwise the command stops, naming it."""
    from assistant.app.container import Services

    services = Services(load_settings())
    try:
        services.open()
    except DataDirLocked as exc:
        if forward and exc.holder.get("url"):
            raise ServerOwnsData(exc.holder["url"]) from None
        _fail(str(exc))
    try:
        yield services
    finally:
        services.close()


def _expand(paths: list[Path]) -> list[Path]:
    from ingest.loaders.base import supported_suffixes

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in supported_suffixes()))
        elif not path.exists():
            _fail(f"{path}: no such file or folder")
        else:
            files.append(path)
    return files


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[current]}"), console=console,
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    kb: Annotated[str, typer.Option("--kb", help="Knowledge base to put them in (created if missing).")],
    doc_id: Annotated[Optional[str], typer.Option("--id", help="Document id (one file only).")] = None,
    title: Annotated[Optional[str], typer.Option(help="Title (one file only).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Version, e.g. V3.2.")] = None,
    effective_date: Annotated[Optional[str], typer.Option(help="Effective date, YYYY-MM-DD.")] = None,
    owner: Annotated[Optional[str], typer.Option(help="Owner (team or person).")] = None,
    tag: Annotated[Optional[list[str]], typer.Option(help="Tag; repeat for several.")] = None,
    url: Annotated[Optional[str], typer.Option(help="Link shown with citations.")] = None,
) -> None:
    """Ingest files into a knowledge base; re-ingesting a file replaces its old version."""
    from assistant.app.knowledge import KnowledgeBases

    files = _expand(paths)
    if not files:
        _fail("no supported files found in " + ", ".join(map(str, paths)))
    if (doc_id or title) and len(files) > 1:
        _fail("--id and --title apply to one file; ingest files one at a time to set them")
    meta = DocumentMeta(id=doc_id, title=title, version=version, effective_date=effective_date,
                        owner=owner, tags=tag or [], url=url)
    try:
        with opened(forward=True) as services:
            knowledge = KnowledgeBases(services)
            if knowledge.create(LOCAL_ACTOR, kb):
                console.print(f"created knowledge base [bold]{kb}[/]")
            with _progress() as progress:
                task = progress.add_task("ingesting", total=len(files), current="")

                def show(result) -> None:
                    _print_result(result.source, result.status, result.chunks, result.error, result.warnings,
                                  progress.console)
                    progress.advance(task)

                results = knowledge.ingest_local(
                    LOCAL_ACTOR, kb, files, meta, on_result=show, on_group=lambda p: progress.update(task, current=p.name)
                )
            failed = sum(r.status == "failed" for r in results)
    except ServerOwnsData as owner_:
        failed = _upload_to_server(owner_.url, kb, files, meta)
    if failed:
        _fail(f"{failed} of {len(files)} files failed; the others were ingested", code=2)


def _print_result(source: str, status: str, chunks: int, error: str | None, warnings: list[str], out: Console) -> None:
    if status == "failed":
        out.print(f"[red]✗[/] {error}", highlight=False)
        return
    out.print(f"[green]✓[/] {source}: {status}, {chunks} chunks" + "".join(f"\n  [yellow]![/] {w}" for w in warnings),
              highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: Annotated[Optional[list[str]], typer.Option("--kb", help="Limit to a knowledge base; repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole Answer as JSON.")] = False,
) -> None:
    """Ask a question and get a cited answer (or a refusal)."""
    try:
        with opened(forward=True) as services:
            from assistant.app.asking import Asking

            answer = Asking(services, services.limiter).ask(LOCAL, question, channel="cli", kbs=kb, limited=False)
    except ServerOwnsData as owner:
        answer = _ask_server(owner.url, question, kb)
    except AssistantError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
    else:
        _print_answer(answer)


def _upload_to_server(url: str, kb: str, files: list[Path], meta: DocumentMeta) -> int:
    """Send files to the server that owns the data directory and follow its job; returns failures."""
    import httpx

    fields = {"doc_id": meta.id, "title": meta.title, "version": meta.version, "effective_date": meta.effective_date,
              "owner": meta.owner, "tags": ",".join(meta.tags) or None, "url": meta.url}
    console.print(f"a server at {url} owns the data directory: uploading to it")
    with httpx.Client(base_url=url, timeout=120, headers=_server_auth()) as client:
        if client.get(f"/v1/kbs/{kb}/documents").status_code == 404:
            client.post("/v1/kbs", json={"name": kb}).raise_for_status()
        handles = [("files", (p.name, p.open("rb"))) for p in files]
        try:
            response = client.post(f"/v1/kbs/{kb}/documents", files=handles,
                                   data={k: v for k, v in fields.items() if v})
        finally:
            for _, (_, handle) in handles:
                handle.close()
        if response.status_code != 202:
            _fail(f"upload refused ({response.status_code}): {response.text[:300]}")
        job_url = response.json()["status_url"]
        with _progress() as progress:
            task = progress.add_task("ingesting", total=len(files), current="")
            while True:
                job = client.get(job_url).json()
                progress.update(task, completed=job["done"])
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.3)
    for f in job["files"]:
        _print_result(f["source"], f["status"], f.get("chunks") or 0, f.get("error"), f.get("warnings") or [], console)
    if job["status"] == "failed":
        _fail(job.get("error") or "the ingestion job failed")
    return sum(f["status"] == "failed" for f in job["files"])


def _server_auth() -> dict[str, str]:
    """The local command line's key (made by the server's first start) as a Bearer header."""
    path = load_settings().storage.data_dir / CLI_KEY_FILE
    try:
        return {"Authorization": f"Bearer {path.read_text().strip()}"}
    except OSError:
        _fail(f"the server needs an API key and {path} cannot be read: run this as the user who started the "
              "server, or create a key with `assistant keys create --role admin` and send it yourself")
        raise  # unreachable: _fail exits


def _ask_server(url: str, question: str, kb: list[str] | None) -> Answer:
    import httpx

    try:
        response = httpx.post(f"{url}/v1/ask", json={"question": question, "kb": kb}, timeout=60,
                              headers=_server_auth())
    except httpx.HTTPError as exc:
        _fail(f"the server at {url} holds the data directory but did not answer: {exc}")
    if response.status_code != 200:
        _fail(f"the server at {url} answered {response.status_code}: {response.text[:300]}")
    return Answer.model_validate(response.json())


def _print_answer(answer: Answer) -> None:
    style = "yellow" if answer.refused else "bold"
    console.print(answer.answer, style=style, highlight=False)
    if answer.citations:
        console.print()
        for c in answer.citations:
            where = " · ".join(x for x in (c.section, f"第{c.page}页" if c.page else "") if x)
            version = f" {c.version}" if c.version else ""
            console.print(f"[cyan][{c.n}][/] {c.title}{version}" + (f" — {where}" if where else ""), highlight=False)
            if c.url:
                console.print(f"    {c.url}", style="dim")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
    load_demo: Annotated[bool, typer.Option("--load-demo", help="Load the demo KB if the index is empty.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs/--plain-logs",
                                            help="Log records (one per request too) as JSON lines.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs, Prometheus metrics at /metrics)."""
    import logging

    import uvicorn

    from assistant.app.api import create_app
    from assistant.app.request_log import use_json_logs

    if json_logs:
        use_json_logs()
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    host = host or settings.server.host
    port = port or settings.server.port
    url = f"http://{host}:{port}"
    application = create_app(settings, load_demo=load_demo, url=url, warm_start=True)  # /readyz: when ready
    console.print(f"serving on {url}  (docs: {url}/docs, data: {settings.storage.data_dir})")
    # Our request log replaces uvicorn's access log (which shows raw paths and query strings), and the
    # logging set up above stays as it is (log_config=None).
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=False, log_config=None)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the queued jobs, then stop.")] = False,
) -> None:
    """Ingest uploaded files from the job queue (a process of its own beside the servers)."""
    from ingest.worker import IngestWorker

    with opened() as services:
        services.sweep()
        runner = IngestWorker(services.ingestor(background=True), services.jobs, lease_seconds=services.settings.ingestion.lease_seconds)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C; a job cut short is retried
        console.print(f"worker {runner.name} waiting for jobs (Ctrl-C stops it)")
        if once:
            while runner.run_once():
                pass
            return
        try:
            runner.run_forever()
        except KeyboardInterrupt:
            console.print("stopped")


@app.command("erp-demo")
def erp_demo(
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
    seed: Annotated[Optional[Path], typer.Option(help="Orders JSON file (default: data/erp/orders.json).")] = None,
) -> None:
    """Serve the demo ERP order API (token: ASSISTANT_ERP__TOKEN) from data/erp, kept in SQLite."""
    import uvicorn

    from assistant.app.erp_demo.service import create_erp_app
    from assistant.app.erp_demo.store import open_demo_store

    settings = load_settings()
    erp = settings.erp
    host = host or erp.demo_host
    port = port or erp.demo_port
    if erp.token is None:
        _fail("the demo ERP needs a token: set ASSISTANT_ERP__TOKEN")
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_demo_store(settings.storage.data_dir, seed or erp.demo_seed)
    application = create_erp_app(store, erp.token.get_secret_value())
    console.print(f"demo ERP on http://{host}:{port}/api/v1  (orders: {seed or erp.demo_seed})")
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        store.close()


@app.command("load-demo")
def load_demo_command() -> None:
    """Load (or refresh) the demo knowledge bases from data/kb, and bind the demo customers' IM identities."""
    from ingest.demo import load_bindings, load_demo

    with opened() as services:
        def show(result) -> None:
            mark = "[red]✗[/]" if result.status == "failed" else "[green]✓[/]"
            console.print(f"{mark} {result.source}: {result.error or result.status} ({result.chunks} chunks)",
                          highlight=False)

        load_demo(services.ingestor(), on_result=show)
        console.print(f"bound {load_bindings(services.directory)} demo IM identities to their ERP customers")


@kb_app.command("create")
def kb_create(
    name: str,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    department: Annotated[Optional[str], typer.Option(help="The owning department (default: open to all).")] = None,
) -> None:
    """Create a knowledge base."""
    from assistant.app.knowledge import KnowledgeBases

    with opened() as services:
        try:
            created = KnowledgeBases(services).create(LOCAL_ACTOR, name, description, department)
        except AssistantError as exc:
            _fail(str(exc))
    console.print(f"{'created' if created else 'already exists:'} {name}")


@kb_app.command("list")
def kb_list() -> None:
    """List knowledge bases with their document counts."""
    with opened() as services:
        table = Table("name", "documents", "department", "also read by", "description")
        for kb in services.catalog.list_kbs():
            table.add_row(kb.name, str(kb.documents), kb.department or "(open)", ", ".join(kb.readers), kb.description)
        console.print(table)


@kb_app.command("delete")
def kb_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a knowledge base and every document in it."""
    from assistant.app.knowledge import KnowledgeBases

    if not yes:
        typer.confirm(f"delete knowledge base {name} and all its documents?", abort=True)
    with opened() as services:
        try:
            KnowledgeBases(services).delete(LOCAL_ACTOR, name)
        except AssistantError as exc:
            _fail(str(exc))
    console.print(f"deleted {name}")


@docs_app.command("list")
def docs_list(kb: Annotated[Optional[str], typer.Option("--kb")] = None) -> None:
    """List documents (optionally of one knowledge base)."""
    with opened() as services:
        table = Table("id", "kb", "title", "version", "effective", "chunks", "state")
        for doc, count in services.catalog.list_documents(kb):
            table.add_row(doc.id, doc.kb, doc.title, doc.version or "", doc.effective_date or "", str(count),
                          "disabled" if doc.disabled else "")
        console.print(table)


@docs_app.command("delete")
def docs_delete(doc_id: str) -> None:
    """Delete a document from every index."""
    from assistant.app.knowledge import KnowledgeBases

    with opened() as services:
        doc = services.catalog.get_document(doc_id)
        if doc is None:
            _fail(f"no document with id {doc_id!r}; see `assistant docs list`")
        KnowledgeBases(services).delete_document(LOCAL_ACTOR, doc.kb, doc_id)
    console.print(f"deleted {doc_id}")


@docs_app.command("disable")
def docs_disable(doc_id: str) -> None:
    """Keep a document but answer nothing from it (no citation, FAQ match or nearest topic)."""
    _set_disabled(doc_id, True)


@docs_app.command("enable")
def docs_enable(doc_id: str) -> None:
    """Answer from a disabled document again."""
    _set_disabled(doc_id, False)


def _set_disabled(doc_id: str, disabled: bool) -> None:
    from assistant.app.knowledge import KnowledgeBases

    with opened() as services:
        doc = services.catalog.get_document(doc_id)
        if doc is None:
            _fail(f"no document with id {doc_id!r}; see `assistant docs list`")
        KnowledgeBases(services).set_disabled(LOCAL_ACTOR, doc.kb, doc_id, disabled)
    console.print(f"{'disabled' if disabled else 'enabled'} {doc_id}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the server and every command also do this when they start)."""
    from assistant.storage.sql.engine import current_revision

    with opened() as services:
        console.print(f"database at revision {current_revision(services.engine)}")


def main() -> None:
    from assistant.app.cli_eval import eval_app

    app.add_typer(eval_app, name="eval")
    try:
        app()
    except AssistantError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
