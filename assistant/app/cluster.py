"""A local cluster on this machine: a Chroma server, API replicas, ingestion workers and a balancer.

``assistant cluster up`` and the cluster tests build one ``LocalCluster`` from a ``ClusterPlan``. Every
process is a plain ``assistant serve`` or ``assistant worker`` over the shared engines, configured the
way a deployment configures it: by ``ASSISTANT_DATABASE_URL``, ``ASSISTANT_REDIS_URL``,
``ASSISTANT_CHROMA_URL`` and ``ASSISTANT_INGESTION__SERVER_WORKER=false`` (the replicas only answer; the
workers ingest). The processes share one data directory: with shared engines it holds only the
uploads waiting for a worker, which every worker must be able to read.

Start-up order matters: the database is migrated and the first administrator made once, here, before
any replica starts (two replicas doing it at once would race); then the Chroma server, the replicas
and the workers start together, and ``start`` returns when every replica's ``/readyz`` is 200 and
every worker has said it is waiting for jobs. ``stop`` ends them in reverse order, gently first.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assistant.app.auth import write_private
from assistant.app.balancer import BalancerThread, RoundRobin
from assistant.errors import ConfigError

READY_SECONDS = 300.0  # two replicas loading their models at once on two cores take about a minute
WORKER_READY_LINE = "waiting for jobs"


class ClusterError(RuntimeError):
    """A process of the cluster did not start; the message ends with the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ClusterPlan:
    """What to start. ``port`` is the balancer's (replicas take the next ones); 0 picks free ports."""

    root: Path
    database_url: str
    redis_url: str
    chroma_url: str | None = None  # None: start `chroma run` over <root>/chroma
    replicas: int = 2
    workers: int = 1
    host: str = "127.0.0.1"
    port: int = 8000
    load_demo: bool = False  # the first replica loads the demo knowledge bases into an empty catalog
    env: Mapping[str, str] = field(default_factory=dict)  # more ASSISTANT_* settings for every process
    base_env: Mapping[str, str] | None = None  # default: this process's environment

    def check(self) -> None:
        if not self.database_url.startswith("postgresql"):
            raise ConfigError("a cluster shares one PostgreSQL database: set ASSISTANT_DATABASE_URL "
                              "(e.g. postgresql+psycopg://user@127.0.0.1:5432/assistant) or pass --database-url")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("a cluster shares one Redis: set ASSISTANT_REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
                              "or pass --redis-url")
        if self.replicas < 1 or self.workers < 0:
            raise ConfigError("a cluster needs at least one replica (and zero or more workers)")


@dataclass
class Member:
    """One process of the cluster."""

    role: str  # chroma | replica | worker
    name: str
    process: subprocess.Popen
    log: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class LocalCluster:
    """The processes of a plan; a context manager (``with LocalCluster(plan) as cluster:``)."""

    def __init__(self, plan: ClusterPlan):
        plan.check()
        self.plan = plan
        self.root = Path(plan.root).resolve()
        self.data_dir = self.root / "data"
        self.logs = self.root / "logs"
        self.members: list[Member] = []
        self.balancer: BalancerThread | None = None
        self.chroma_url = plan.chroma_url
        self.api_key = ""
        self.admin_password: str | None = None  # set when this start made the administrator
        self._session_secret = ""
        self._count = {"replica": 0, "worker": 0}

    # -- what runs ------------------------------------------------------------------------------
    @property
    def replicas(self) -> list[Member]:
        return [m for m in self.members if m.role == "replica"]

    @property
    def workers(self) -> list[Member]:
        return [m for m in self.members if m.role == "worker"]

    @property
    def replica_urls(self) -> list[str]:
        return [m.url for m in self.replicas if m.url]

    @property
    def url(self) -> str:
        """The balancer's URL: where clients send requests."""
        assert self.balancer is not None, "the cluster is not started"
        return self.balancer.url

    # -- start and stop -------------------------------------------------------------------------
    def start(self, *, timeout: float = READY_SECONDS) -> "LocalCluster":
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.chroma_url is None:
                self._start_chroma()
            self._bootstrap()
            ports = self._replica_ports()
            for i, port in enumerate(ports):
                self.add_replica(port, load_demo=self.plan.load_demo and i == 0, wait=False)
            for _ in range(self.plan.workers):
                self.add_worker(wait=False)
            deadline = time.monotonic() + timeout
            for member in self.replicas + self.workers:
                self._wait_ready(member, deadline)
            self.balancer = BalancerThread(RoundRobin(self.replica_urls), self.plan.host,
                                           self.plan.port or free_port(self.plan.host))
            self.balancer.start()
        except BaseException:
            self.stop()
            raise
        return self

    def add_replica(self, port: int | None = None, *, load_demo: bool = False, wait: bool = True) -> Member:
        """Start one more API replica (it is not added to a running balancer)."""
        self._count["replica"] += 1
        name = f"replica-{self._count['replica']}"
        port = port or free_port(self.plan.host)
        command = ["serve", "--host", self.plan.host, "--port", str(port)] + (["--load-demo"] if load_demo else [])
        member = self._spawn("replica", name, command, url=f"http://{self.plan.host}:{port}")
        if wait:
            self._wait_ready(member, time.monotonic() + READY_SECONDS)
        return member

    def add_worker(self, *, wait: bool = True) -> Member:
        """Start one more ingestion worker."""
        self._count["worker"] += 1
        member = self._spawn("worker", f"worker-{self._count['worker']}", ["worker"])
        if wait:
            self._wait_ready(member, time.monotonic() + READY_SECONDS)
        return member

    def stop(self) -> None:
        """Stop everything this cluster started: the balancer, the replicas and workers (SIGTERM, then
        SIGKILL after 20 s), the Chroma server last."""
        if self.balancer is not None:
            self.balancer.stop()
            self.balancer = None
        apps = [m for m in self.members if m.role != "chroma"]
        for member in apps:
            _signal(member, signal.SIGTERM)  # uvicorn and `assistant worker` stop on it as on Ctrl-C
        for member in apps:
            _reap(member, 20)
        for member in self.members:
            if member.role == "chroma":
                _signal(member, signal.SIGTERM)
                _reap(member, 15)
        self.members = []

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the steps --------------------------------------------------------------------------------
    def _replica_ports(self) -> list[int]:
        if self.plan.port:
            return [self.plan.port + i + 1 for i in range(self.plan.replicas)]
        return [free_port(self.plan.host) for _ in range(self.plan.replicas)]

    def _start_chroma(self) -> None:
        port = free_port(self.plan.host)
        path = self.root / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        member = self._spawn("chroma", "chroma", [], url=f"http://{self.plan.host}:{port}",
                             argv=[_chroma_executable(), "run", "--path", str(path), "--host", self.plan.host,
                                   "--port", str(port)])
        self.chroma_url = member.url
        self._wait_ready(member, time.monotonic() + 60)

    def _bootstrap(self) -> None:
        """Migrate the database and make the administrator and this cluster's API key, once."""
        from assistant.app.container import Services
        from assistant.app.settings import Settings

        secret_file = self.root / "session.secret"
        if not secret_file.is_file():
            write_private(secret_file, secrets.token_urlsafe(32))
        self._session_secret = secret_file.read_text().strip()
        password = self.plan.env.get("ASSISTANT_AUTH__ADMIN_PASSWORD")
        settings = Settings(storage={"data_dir": self.data_dir, "database_url": self.plan.database_url,
                                     "chroma_url": self.chroma_url, "redis_url": self.plan.redis_url},
                            auth={"session_secret": self._session_secret, "admin_password": password})
        key_file = self.root / "cluster.key"
        with Services(settings) as services:
            first = services.auth.first_run(None, password)
            if first is not None:
                self.admin_password = first.password
            key = key_file.read_text().strip() if key_file.is_file() else ""
            if not key or services.auth.from_bearer(f"Bearer {key}") is None:
                _, key = services.auth.create_key("admin", name="local cluster", created_by="assistant cluster up")
                write_private(key_file, key)
        self.api_key = key

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ if self.plan.base_env is None else self.plan.base_env)
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost", self.plan.host]))
        env.update({
            "ASSISTANT_DATABASE_URL": self.plan.database_url, "ASSISTANT_REDIS_URL": self.plan.redis_url,
            "ASSISTANT_CHROMA_URL": self.chroma_url or "", "ASSISTANT_DATA_DIR": str(self.data_dir),
            "ASSISTANT_AUTH__SESSION_SECRET": self._session_secret,
            "ASSISTANT_INGESTION__SERVER_WORKER": "false",  # the workers ingest; the replicas answer
            "NO_PROXY": no_proxy, "no_proxy": no_proxy, "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",  # the worker's "waiting for jobs" line on one line of its log
        })
        env.update(self.plan.env)
        return env

    def _spawn(self, role: str, name: str, command: list[str], *, url: str | None = None,
               argv: list[str] | None = None) -> Member:
        log = self.logs / f"{name}.log"
        argv = argv or [sys.executable, "-m", "assistant.app.cli", *command]
        with open(log, "ab") as out:
            # A session of its own: Ctrl-C in the terminal reaches this process only, which stops the others in order.
            process = subprocess.Popen(argv, env=self._environment(), stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        member = Member(role, name, process, log, url)
        self.members.append(member)
        return member

    def _wait_ready(self, member: Member, deadline: float) -> None:
        while not _ready(member):
            if not member.alive():
                raise ClusterError(f"{member.name} stopped (exit code {member.process.returncode}); "
                                   f"its log {member.log} ends:\n{member.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{member.name} was not ready in time; its log {member.log} ends:\n{member.log_tail()}")
            time.sleep(0.3)


def _ready(member: Member) -> bool:
    if member.role == "worker":
        return WORKER_READY_LINE in member.log_tail(100_000)
    path = "/api/v2/heartbeat" if member.role == "chroma" else "/readyz"
    try:
        with _opener.open(f"{member.url}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:  # refused, 503 (HTTPError), timeout
        return False


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def _die_with_parent() -> None:
    """In the child before it runs: SIGTERM when the process that started it dies, however it dies
    (Linux; elsewhere a killed ``cluster up`` leaves its processes to stop by hand)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _chroma_executable() -> str:
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    raise ConfigError(f"no `chroma` command beside {sys.executable}: install chromadb in this environment, "
                      "or pass the URL of a running Chroma server (ASSISTANT_CHROMA_URL)")


def _signal(member: Member, signum: int) -> None:
    if member.alive():
        try:
            member.process.send_signal(signum)
        except ProcessLookupError:
            pass


def _reap(member: Member, seconds: float) -> None:
    try:
        member.process.wait(seconds)
    except subprocess.TimeoutExpired:
        member.process.kill()
        member.process.wait(10)

