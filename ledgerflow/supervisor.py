"""`ledgerflow up`: the whole platform as child processes, kept alive.

Starts an embedded PostgreSQL when `DATABASE_URL` is not set, migrates the database
(`ledgerflow db migrate`), loads the reference data, then starts the simulators on free
ports (unless a real provider's URL is configured), the API and every worker, each
serving its metrics on a loopback port of its own, and says it is up once the API
answers and the read models have caught up with the data loaded; writes every URL to
`<data-dir>/urls.json` (the metrics' under "metrics", by process) and the database's to
`<data-dir>/database.url` (its owner's alone), where `ledgerflow status` and the other
commands find it; restarts a child that dies; stops them all on Ctrl-C or SIGTERM.
Unless an identity provider is configured (`LEDGERFLOW_AUTH_JWKS_URL`), it is the token
issuer: its key is made in `<data-dir>/issuer/` on the first start, and
`ledgerflow token --data-dir <data-dir>` signs tokens the API accepts.

The API and the workers register in `ledgerflow_processes` under their child's name;
the supervisor counts each one's restarts there, with how it last exited.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from adapters.authentication import DevelopmentIssuer
from adapters.postgres import create_database, with_database
from adapters.processes import record_exit
from domain.clock import Clock, SystemClock
from ledgerflow.authentication import development_issuer_dir
from ledgerflow.data_dir import forget_database_url, write_database_url
from ledgerflow.workers import workers
from ledgerflow.workflows import WORKFLOWS


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)  # its own, over the platform's
    registers: bool = False  # in `ledgerflow_processes`, under `name` (the simulators do not)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env={**env, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def die_with_parent() -> None:
    """In a child, before exec: on Linux, the child gets SIGTERM when its parent dies, so a
    supervisor killed with SIGKILL leaves no orphaned workers behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def ensure_database(server_url: str, dbname: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
    if not exists:
        create_database(server_url, dbname)
    return with_database(server_url, dbname)


def write_pids(data_dir: Path, children: list[Child]) -> None:
    """`<data-dir>/processes.json`: which process runs what, for operators."""
    pids = {child.name: child.process.pid for child in children if child.process}
    (data_dir / "processes.json").write_text(json.dumps(pids, indent=2) + "\n")


@dataclass
class Supervisor:
    """Keeps `children` alive: restarts one that exited (backing off one that keeps
    dying) and, for one that registers, counts the restart and records how it exited in
    `ledgerflow_processes`, where `GET /status` shows it."""

    children: list[Child]
    env: dict[str, str]
    on_restart: Callable[[list[Child]], None] = lambda children: None
    clock: Clock = field(default_factory=SystemClock)
    host: str = field(default_factory=socket.gethostname)

    def start(self) -> None:
        for child in self.children:
            child.start(self.env)

    def tend(self) -> None:
        for child in self.children:
            if child.alive() or child.process is None:
                continue
            # Back off a child that keeps dying, so a broken config does not spin.
            if time.monotonic() - child.started_at < 2 ** min(child.restarts, 5):
                continue
            returncode = child.process.returncode
            child.restarts += 1
            print(
                f"  {child.name} exited ({returncode}); restarting (restart #{child.restarts})",
                flush=True,
            )
            if child.registers:
                self._record_exit(child, returncode)
            child.start(self.env)
            self.on_restart(self.children)

    def _record_exit(self, child: Child, returncode: int) -> None:
        try:
            record_exit(
                self.env["DATABASE_URL"], child.name, self.host, returncode, self.clock.now()
            )
        except psycopg.Error as error:  # the restart matters more than its record
            print(f"  {child.name}: its restart is not recorded ({error})", flush=True)


def run_platform(*, host: str, port: int, data_dir: Path) -> int:
    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    embedded = None
    if not env.get("DATABASE_URL"):
        from ledgerflow.embedded_pg import EmbeddedPostgres, EmbeddedPostgresMissing

        embedded = EmbeddedPostgres(data_dir / "pg")
        try:
            env["DATABASE_URL"] = ensure_database(embedded.start(), "ledgerflow")
        except EmbeddedPostgresMissing as error:
            print(f"ledgerflow: {error}", file=sys.stderr)
            return 1
    issuer = None
    if not env.get("LEDGERFLOW_AUTH_JWKS_URL"):
        issuer = DevelopmentIssuer.ensure(development_issuer_dir(data_dir))
        env["LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR"] = str(issuer.directory)
    cli = [sys.executable, "-m", "ledgerflow.cli"]
    # The tables first, before any process that uses them (each refuses an older schema).
    migrated = subprocess.run(
        [*cli, "db", "migrate"],
        env={**env, "LEDGERFLOW_LOG_LEVEL": "WARNING"},  # errors only: no migration chatter
        stdout=subprocess.DEVNULL,
    )
    if migrated.returncode != 0:
        if embedded is not None:
            embedded.stop()
        return migrated.returncode
    for seed_name in [n for cls in WORKFLOWS for n, on_up in cls.seeds.items() if on_up]:
        # Idempotent: on the first start it loads the data set, later it adds nothing.
        subprocess.run([*cli, "seed", seed_name], env=env, check=True, stdout=subprocess.DEVNULL)
    children: list[Child] = []
    urls: dict[str, object] = {"api": f"http://{host}:{port}", "simulators": {}}
    simulators: dict[str, str] = {}
    simulator_settings = {
        name: variable for cls in WORKFLOWS for name, variable in cls.simulators.items()
    }
    for name, setting in simulator_settings.items():
        if env.get(setting):
            continue  # a real provider is configured: no simulator for it
        sim_port = free_port()
        simulators[name] = env[setting] = f"http://127.0.0.1:{sim_port}"
        children.append(
            Child(
                f"simulator-{name}",
                [*cli, "simulator", name, "--port", str(sim_port)],
                data_dir / "logs" / f"simulator-{name}.log",
            )
        )
    urls["simulators"] = simulators
    served = [
        ("api", [*cli, "api", "--host", host, "--port", str(port)]),
        *((f"worker-{name}", [*cli, "worker", name]) for name in workers()),
    ]
    metrics: dict[str, str] = {}
    for name, argv in served:
        # Each its own metrics port on the loopback, kept across restarts.
        metrics_port = free_port()
        metrics[name] = f"http://127.0.0.1:{metrics_port}/metrics"
        children.append(
            Child(
                name,
                argv,
                data_dir / "logs" / f"{name}.log",
                env={
                    "LEDGERFLOW_METRICS_PORT": str(metrics_port),
                    "LEDGERFLOW_METRICS_HOST": "127.0.0.1",
                    "LEDGERFLOW_PROCESS_NAME": name,
                },
                registers=True,
            )
        )
    urls["metrics"] = metrics

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor = Supervisor(children, env, on_restart=lambda c: write_pids(data_dir, c))
    try:
        supervisor.start()
        (data_dir / "urls.json").write_text(json.dumps(urls, indent=2) + "\n")
        write_database_url(data_dir, env["DATABASE_URL"])
        write_pids(data_dir, children)
        wait_for_port(port)
        # Up means usable: the read models hold the data sets loaded above.
        caught_up = subprocess.run(
            [*cli, "projections", "wait", "--timeout", "120"],
            env={**env, "LEDGERFLOW_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
        )
        if caught_up.returncode != 0 and not stopping:
            print("ledgerflow: the read models did not catch up; see logs/", flush=True)
        print(f"ledgerflow is up (logs in {data_dir / 'logs'})")
        print(f"  api        {urls['api']}  (docs: {urls['api']}/docs)")
        for name, url in simulators.items():
            print(f"  {name:<10} {url}")
        if issuer is not None:
            print(f"  tokens     ledgerflow token --data-dir {data_dir} --role operator")
        print(f'  metrics    {len(metrics)} processes\' URLs in urls.json ("metrics")')
        print(f"  status     ledgerflow status --data-dir {data_dir}")
        print(f"  urls.json  {data_dir / 'urls.json'}", flush=True)
        while not stopping:
            supervisor.tend()
            time.sleep(0.2)
    finally:
        print("stopping ledgerflow...", flush=True)
        for child in reversed(children):
            if child.alive() and child.process is not None:
                child.process.terminate()
        for child in reversed(children):
            child.stop()
        forget_database_url(data_dir)
        if embedded is not None:
            embedded.stop()
    return 0
