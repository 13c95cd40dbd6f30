"""The ``assistant`` command line: commands read like sentences.

    assistant ingest data/kb/support --kb support
    assistant ask "电子发票怎么开？" --json
    assistant serve --load-demo
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.config import Settings
from assistant.domain import Answer
from assistant.errors import AssistantError, DataDirLocked

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Customer-service knowledge assistant.")
kb_app = typer.Typer(no_args_is_help=True, help="Create, list and delete knowledge bases.")
docs_app = typer.Typer(no_args_is_help=True, help="List and delete documents.")
app.add_typer(kb_app, name="kb")
app.add_typer(docs_app, name="docs")

console = Console()
err = Console(stderr=True)
CLI_GROUP = 20


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _open_services(settings: Settings):
    """Open the data directory for this process, or explain who holds it."""
    from assistant.services import Services

    services = Services(settings)
    try:
        services.lock.acquire()
    except DataDirLocked as exc:
        _fail(str(exc))
    return services


def _expand(paths: list[Path]) -> list[Path]:
    from ingest.loaders.base import supported_suffixes

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in supported_suffixes()))
        else:
            files.append(path)
    return files


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
    from assistant.services import make_ingestor
    from ingest.job import DocumentMeta

    files = _expand(paths)
    if not files:
        _fail("no supported files found in " + ", ".join(map(str, paths)))
    if (doc_id or title) and len(files) > 1:
        _fail("--id and --title apply to one file; ingest files one at a time to set them")
    from assistant.services import Services

    services = Services(Settings())
    holder = services.lock.holder() or {}
    try:
        services.lock.acquire()
    except DataDirLocked as exc:
        if not holder.get("url"):
            _fail(str(exc))
        fields = {"doc_id": doc_id, "title": title, "version": version, "effective_date": effective_date,
                  "owner": owner, "tags": ",".join(tag or []) or None, "url": url}
        failed = _upload_to_server(holder["url"], kb, files, {k: v for k, v in fields.items() if v})
        if failed:
            _fail(f"{failed} of {len(files)} files failed; the others were ingested", code=2)
        return
    try:
        if services.catalog.create_kb(kb):
            console.print(f"created knowledge base [bold]{kb}[/]")
        ingestor = make_ingestor(services)
        meta = DocumentMeta(
            id=doc_id, title=title, version=version, effective_date=effective_date,
            owner=owner, tags=tag or [], url=url,
        )
        failed = 0
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[current]}"), console=console,
        ) as progress:
            task = progress.add_task("ingesting", total=len(files), current="")

            def show(result) -> None:
                nonlocal failed
                if result.status == "failed":
                    failed += 1
                    progress.console.print(f"[red]✗[/] {result.error}")
                else:
                    progress.console.print(
                        f"[green]✓[/] {result.source}: {result.status}, {result.chunks} chunks"
                        + "".join(f"\n  [yellow]![/] {w}" for w in result.warnings)
                    )
                progress.advance(task)

            # Groups of files share embedding batches and index commits; the bar moves per group.
            for start in range(0, len(files), CLI_GROUP):
                group = files[start : start + CLI_GROUP]
                progress.update(task, current=group[0].name)
                ingestor.ingest_files(group, kb, [meta] * len(group), on_result=show)
        if failed:
            _fail(f"{failed} of {len(files)} files failed; the others were ingested", code=2)
    finally:
        services.close()


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: Annotated[Optional[list[str]], typer.Option("--kb", help="Limit to a knowledge base; repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole Answer as JSON.")] = False,
) -> None:
    """Ask a question and get a cited answer (or a refusal)."""
    from assistant.services import Services

    settings = Settings()
    services = Services(settings)
    holder = services.lock.holder() or {}
    try:
        services.lock.acquire()
    except DataDirLocked as exc:
        if not holder.get("url"):
            _fail(str(exc))
        answer = _ask_server(holder["url"], question, kb)
    else:
        try:
            answer = services.default_pipeline.ask(question, kb_ids=kb)
        except AssistantError as exc:
            _fail(str(exc))
        finally:
            services.close()
    if as_json:
        sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
    else:
        _print_answer(answer)


def _upload_to_server(url: str, kb: str, files: list[Path], fields: dict) -> int:
    """Send files to the server that owns the data directory and follow its job; returns failures."""
    import time

    import httpx

    console.print(f"a server at {url} owns the data directory: uploading to it")
    with httpx.Client(base_url=url, timeout=120) as client:
        if client.get(f"/v1/kbs/{kb}/documents").status_code == 404:
            client.post("/v1/kbs", json={"name": kb}).raise_for_status()
        handles = [("files", (p.name, p.open("rb"))) for p in files]
        try:
            response = client.post(f"/v1/kbs/{kb}/documents", files=handles, data=fields)
        finally:
            for _, (_, handle) in handles:
                handle.close()
        if response.status_code != 202:
            _fail(f"upload refused ({response.status_code}): {response.text[:300]}")
        job_url = response.json()["status_url"]
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("ingesting", total=len(files))
            while True:
                job = client.get(job_url).json()
                progress.update(task, completed=job["done"])
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.3)
    failed = 0
    for f in job["files"]:
        if f["status"] == "failed":
            failed += 1
            console.print(f"[red]✗[/] {f['error']}")
        else:
            console.print(f"[green]✓[/] {f['source']}: {f['status']}, {f.get('chunks', 0)} chunks")
    if job["status"] == "failed":
        _fail(job.get("error") or "the ingestion job failed")
    return failed


def _ask_server(url: str, question: str, kb: list[str] | None) -> Answer:
    import httpx

    try:
        response = httpx.post(f"{url}/v1/ask", json={"question": question, "kb": kb}, timeout=60)
    except httpx.HTTPError as exc:
        _fail(f"the server at {url} holds the data directory but did not answer: {exc}")
    if response.status_code != 200:
        _fail(f"the server at {url} answered {response.status_code}: {response.text[:300]}")
    return Answer.model_validate(response.json())


def _print_answer(answer: Answer) -> None:
    style = "yellow" if answer.refused else "bold"
    console.print(answer.answer, style=style)
    if answer.citations:
        console.print()
        for c in answer.citations:
            where = " · ".join(x for x in (c.section, f"第{c.page}页" if c.page else "") if x)
            version = f" {c.version}" if c.version else ""
            console.print(f"[cyan][{c.n}][/] {c.title}{version}" + (f" — {where}" if where else ""))
            if c.url:
                console.print(f"    {c.url}", style="dim")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
    load_demo: Annotated[bool, typer.Option("--load-demo", help="Load the demo KB if the index is empty.")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from assistant.api import create_app

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    url = f"http://{host}:{port}"
    application = create_app(settings, load_demo=load_demo, url=url)
    console.print(f"serving on {url}  (docs: {url}/docs, data: {settings.data_dir})")
    uvicorn.run(application, host=host, port=port, log_level="info")


@app.command("erp-demo")
def erp_demo(
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
    seed: Annotated[Optional[Path], typer.Option(help="Orders JSON file (default: data/erp/orders.json).")] = None,
) -> None:
    """Serve the demo ERP order API (token: ASSISTANT_ERP_TOKEN) from data/erp, kept in SQLite."""
    import uvicorn

    from assistant.erp.demo import create_erp_app, open_demo_store

    settings = Settings()
    host = host or settings.erp_demo_host
    port = port or settings.erp_demo_port
    if settings.erp_token is None:
        _fail("the demo ERP needs a token: set ASSISTANT_ERP_TOKEN")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_demo_store(settings.data_dir, seed or settings.erp_seed)
    application = create_erp_app(store, settings.erp_token.get_secret_value())
    console.print(f"demo ERP on http://{host}:{port}/api/v1  (orders: {seed or settings.erp_seed})")
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        store.close()


@app.command("load-demo")
def load_demo_command() -> None:
    """Load (or refresh) the demo knowledge bases from data/kb."""
    from assistant.services import make_ingestor
    from ingest.demo import load_demo

    services = _open_services(Settings())
    try:
        def show(result) -> None:
            mark = "[red]✗[/]" if result.status == "failed" else "[green]✓[/]"
            console.print(f"{mark} {result.source}: {result.error or result.status} ({result.chunks} chunks)")

        load_demo(make_ingestor(services), on_result=show)
    finally:
        services.close()


@kb_app.command("create")
def kb_create(name: str, description: Annotated[str, typer.Option(help="What it holds.")] = "") -> None:
    """Create a knowledge base."""
    services = _open_services(Settings())
    try:
        created = services.catalog.create_kb(name, description)
    except AssistantError as exc:
        _fail(str(exc))
    finally:
        services.close()
    console.print(f"{'created' if created else 'already exists:'} {name}")


@kb_app.command("list")
def kb_list() -> None:
    """List knowledge bases with their document counts."""
    services = _open_services(Settings())
    try:
        table = Table("name", "documents", "description")
        for kb in services.catalog.list_kbs():
            table.add_row(kb["name"], str(kb["documents"]), kb["description"])
        console.print(table)
    finally:
        services.close()


@kb_app.command("delete")
def kb_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a knowledge base and every document in it."""
    from assistant.services import make_ingestor

    if not yes:
        typer.confirm(f"delete knowledge base {name} and all its documents?", abort=True)
    services = _open_services(Settings())
    try:
        make_ingestor(services).delete_kb(name)
    except AssistantError as exc:
        _fail(str(exc))
    finally:
        services.close()
    console.print(f"deleted {name}")


@docs_app.command("list")
def docs_list(kb: Annotated[Optional[str], typer.Option("--kb")] = None) -> None:
    """List documents (optionally of one knowledge base)."""
    services = _open_services(Settings())
    try:
        table = Table("id", "kb", "title", "version", "effective", "chunks")
        for doc, count in services.catalog.list_documents(kb):
            table.add_row(doc.id, doc.kb, doc.title, doc.version or "", doc.effective_date or "", str(count))
        console.print(table)
    finally:
        services.close()


@docs_app.command("delete")
def docs_delete(doc_id: str) -> None:
    """Delete a document from every index."""
    from assistant.services import make_ingestor

    services = _open_services(Settings())
    try:
        found = make_ingestor(services).delete_document(doc_id)
    finally:
        services.close()
    if not found:
        _fail(f"no document with id {doc_id!r}; see `assistant docs list`")
    console.print(f"deleted {doc_id}")


def _add_eval() -> None:
    # The eval harness is an edge package; the CLI is a composition root and may wire it in.
    from eval.cli import eval_app

    app.add_typer(eval_app, name="eval")


def main() -> None:
    _add_eval()
    try:
        app()
    except AssistantError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
