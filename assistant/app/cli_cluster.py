"""``assistant cluster up``: a local cluster on this machine, for trying scale-out and for its tests.

    ASSISTANT_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/assistant \\
    ASSISTANT_REDIS_URL=redis://127.0.0.1:6379/0 assistant cluster up --replicas 2 --workers 2

starts a Chroma server (unless ``ASSISTANT_CHROMA_URL`` names one), the replicas, the workers and a
round-robin balancer, prints their URLs and the API key, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

cluster_app = typer.Typer(no_args_is_help=True, help="A local cluster: Chroma server, API replicas, workers, balancer.")
console = Console()


@cluster_app.command("up")
def up(
    replicas: Annotated[int, typer.Option(help="API replicas.")] = 2,
    workers: Annotated[int, typer.Option(help="Ingestion worker processes.")] = 1,
    port: Annotated[int, typer.Option(help="The balancer's port; replicas take the next ones (0: free ports).")] = 8000,
    host: Annotated[str, typer.Option(help="Bind address of every process.")] = "127.0.0.1",
    root: Annotated[Optional[Path], typer.Option(help="Logs, uploads, Chroma's files (default: <data dir>/cluster).")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="PostgreSQL (default: ASSISTANT_DATABASE_URL).")] = None,
    redis_url: Annotated[Optional[str], typer.Option(help="Redis (default: ASSISTANT_REDIS_URL).")] = None,
    load_demo: Annotated[bool, typer.Option("--load-demo", help="Load the demo KBs if the catalog is empty.")] = False,
) -> None:
    """Start a local cluster and keep it running until Ctrl-C."""
    from assistant.app.cluster import ClusterPlan, LocalCluster
    from assistant.app.settings import load_settings

    storage = load_settings().storage
    plan = ClusterPlan(
        root=root or storage.data_dir / "cluster", database_url=database_url or storage.database_url or "",
        redis_url=redis_url or storage.redis_url or "", chroma_url=storage.chroma_url, replicas=replicas,
        workers=workers, host=host, port=port, load_demo=load_demo,
    )
    cluster = LocalCluster(plan)
    stopping = False

    def interrupted(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background, where SIGINT starts ignored
    console.print(f"starting {replicas} replica(s) and {workers} worker(s); logs in {cluster.logs}")
    try:
        cluster.start()
        _announce(cluster)
        while True:
            time.sleep(2)
            for member in cluster.members:
                if not member.alive() and not stopping:
                    console.print(f"[bold red]{member.name} stopped[/] (exit code {member.process.returncode}); "
                                  f"see {member.log}", highlight=False)
                    cluster.members.remove(member)
    except KeyboardInterrupt:
        console.print("stopping the cluster…")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave processes behind
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
        console.print("stopped")


def _announce(cluster) -> None:
    console.print(f"[bold]balancer[/]   {cluster.url}   (round robin over the replicas)", highlight=False)
    for member in cluster.members:
        where = member.url or f"pid {member.pid}"
        console.print(f"  {member.name:<10} {where}   log {member.log}", highlight=False)
    console.print(f"API key: {cluster.api_key}  (also in {cluster.root / 'cluster.key'})", highlight=False)
    if cluster.admin_password:
        console.print(f"console: {cluster.url}/console  user admin, password {cluster.admin_password} (shown once)",
                      highlight=False)
    console.print(f'try: curl -s {cluster.url}/v1/ask -H "Authorization: Bearer $(cat {cluster.root / "cluster.key"})" '
                  "-H 'content-type: application/json' -d '{\"question\": \"发票怎么开？\"}'", highlight=False)
    console.print("Ctrl-C stops every process.")
