"""Benchmarks: each measures the platform against a fixed baseline in the same run.

`python -m bench.run [--quick] [--only a|b|c]` (or `make bench`). Helpers shared by the
benchmark modules live here: a fresh database per benchmark, free ports, child processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

from adapters.authentication import DevelopmentIssuer
from adapters.migrations import migrate
from adapters.postgres import DEFAULT_SERVER_URL, create_database, drop_database, with_database
from domain.access import Actor, Role
from ledgerflow.supervisor import die_with_parent

# Who the commands a benchmark makes directly (not through the API) are recorded as.
BENCH = Actor.system("bench")

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LEDGERFLOW = str(Path(PYTHON).with_name("ledgerflow"))


@dataclass
class Result:
    """One benchmark's figures, measured in the same run."""

    key: str  # "a", "b" or "c"
    name: str
    unit: str
    baseline: float
    ours: float
    baseline_label: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline > 0 else float("inf")

    def line(self) -> str:
        return (
            f"({self.key}) {self.name:<8} baseline {self.baseline:.1f} {self.unit}"
            f" ({self.baseline_label})   ledgerflow {self.ours:.1f} {self.unit}"
            f"   ratio {self.ratio:.2f}x"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL


def bench_parser(
    prog: str,
    description: str | None,
    *,
    quick_help: str,
    smoke_help: str = "a tiny run, for the test suite",
) -> argparse.ArgumentParser:
    """A benchmark's command line: `--quick | --smoke` and `--server-url`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=quick_help)
    size.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--server-url", default=None, help="PostgreSQL server (default: env)")
    return parser


def size_of(args: argparse.Namespace) -> str:
    """ "smoke", "quick" or "full", from a `bench_parser`'s arguments."""
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def server_of(args: argparse.Namespace) -> str:
    """The PostgreSQL server of a `bench_parser`'s arguments (default: `server_url()`)."""
    return str(args.server_url or server_url())


@contextlib.contextmanager
def fresh_database(server: str, label: str) -> Iterator[str]:
    """A migrated database of its own on `server`, dropped afterwards; yields its URL."""
    name = f"ledgerflow_bench_{label}_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    try:
        url = with_database(server, name)
        migrate(url)
        yield url
    finally:
        drop_database(server, name)


@dataclass(frozen=True)
class Caller:
    """Who the load generator calls the platform as: the environment that makes
    `ledgerflow api` trust a development issuer, and a client's token it signed."""

    env: dict[str, str]
    token: str


@contextlib.contextmanager
def client_caller() -> Iterator[Caller]:
    """A development issuer of its own for one benchmark, and a client of every scope."""
    with tempfile.TemporaryDirectory(prefix="ledgerflow-bench-issuer-") as directory:
        issuer = DevelopmentIssuer.ensure(Path(directory))
        yield Caller(
            {"LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR": directory},
            issuer.token(Role.CLIENT, subject="bench-client", ttl_seconds=86400),
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            args,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(self.args)} exited ({self.process.returncode}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def children(*specs: tuple[list[str], Mapping[str, str], Path]) -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        for args, env, log_path in specs:
            started.append(Child(args, env, log_path))
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def wait_http(url: str, child: Child, timeout: float = 30.0) -> None:
    """Wait until `url` answers 2xx (the child must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        child.check_alive()
        try:
            response = httpx.get(url, timeout=2)
            if response.is_success:
                return
            last = response.status_code
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s (last: {last!r})")


# The load generators are one client sending what the platform can take: far more than a
# client's default rate limit. The limiter still counts every request (its own cost per
# request: bench/rate_limits.py).
ONE_CLIENT_LIMITS = {
    "LEDGERFLOW_RATE_LIMIT_SMS": "100000/second",
    "LEDGERFLOW_RATE_LIMIT_ORDERS": "100000/second",
}


def bare_app_command(port: int, database_url: str, shape: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the bare baseline app (bench/bare_app.py) of `shape`."""
    args = [PYTHON, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port)]
    args += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    args += ["--log-level", "warning"]
    return args, {"BENCH_BARE_DATABASE_URL": database_url, "BENCH_BARE_SHAPE": shape}


def wait_count(
    measure: Callable[[], int],
    count: int,
    watched: Sequence[Child],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    max_interval: float = 2.0,
) -> None:
    """Poll `measure()` until it reaches `count`; the `watched` children must stay alive.

    The poll is a query on the machine being measured: while the end is far off it
    polls every quarter of the estimated time left (at most `max_interval`), and every
    `interval` as the end nears, so the wait costs little and still ends on time."""
    started = time.monotonic()
    deadline = started + timeout
    done = 0
    while done < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {count} {what} within {timeout}s")
        for child in watched:
            child.check_alive()
        elapsed = time.monotonic() - started
        left = (count - done) * elapsed / done if done else 0.0
        time.sleep(min(max_interval, max(interval, left / 4)))
        done = measure()


def wait_positions(url: str, follower_like: str, minimum: int, *, timeout: float) -> None:
    """Wait until `minimum` followers named LIKE `follower_like` registered a position."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ledgerflow_positions WHERE follower LIKE %s",
                (follower_like,),
            ).fetchone()
        if row and row[0] >= minimum:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no {minimum} positions of {follower_like!r} within {timeout}s")


def log_dir() -> Path:
    return ROOT / "bench" / "results" / "logs"
