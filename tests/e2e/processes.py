"""Starting platform processes as real OS processes, for end-to-end tests.

Each process is `python -m ledgerflow.cli ...` with an environment of its own and its
output in a log file under a temporary directory. `stop_all()` terminates every process
still running (then kills those that do not stop); `sigkill(name)` kills one at once,
as a crash would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from ledgerflow.supervisor import die_with_parent


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the process started on it binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """The platform's processes for one test; use as a context manager or call `stop_all`."""

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or {})
        self.processes: dict[str, Process] = {}

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Process:
        """Start `ledgerflow <args>` as the process `name` (a name is used once)."""
        if name in self.processes:
            raise ValueError(f"a process named {name!r} was already started")
        argv = [sys.executable, "-m", "ledgerflow.cli", *args]
        full_env = {**os.environ, **self.env, **(env or {}), "PYTHONUNBUFFERED": "1"}
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        try:
            popen = subprocess.Popen(
                argv,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except BaseException:
            log.close()
            raise
        process = Process(name, argv, log_path, popen, log)
        self.processes[name] = process
        return process

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    def sigkill(self, name: str) -> int:
        """Kill the process `name` with SIGKILL (no clean-up at all); returns its pid."""
        process = self.processes[name]
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(10)
        return process.pid

    def check_alive(self, *names: str) -> None:
        """Fail when one of the named processes (all when none named) has exited."""
        for name in names or tuple(self.processes):
            process = self.processes[name]
            if not process.alive():
                raise AssertionError(
                    f"process {name} exited with {process.popen.returncode}:\n{process.tail()}"
                )

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every process still running, wait, then SIGKILL the ones left."""
        running = [p for p in self.processes.values() if p.alive()]
        for process in running:
            process.popen.terminate()
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(10)
        for process in self.processes.values():
            process._log.close()

    @contextmanager
    def logs_on_failure(self, lines: int = 60) -> Iterator[None]:
        """On any failure inside the block, print the end of every process's log."""
        try:
            yield
        except BaseException:
            print("\n===== process logs (tail) =====\n" + self.tails(lines), file=sys.stderr)
            raise

    def tails(self, lines: int = 40) -> str:
        """The end of every process's log, for a failure report."""
        parts = []
        for process in self.processes.values():
            state = "running" if process.alive() else f"exit {process.popen.returncode}"
            parts.append(
                f"----- {process.name} (pid {process.pid}, {state}) {process.log_path}\n"
                f"{process.tail(lines)}"
            )
        return "\n".join(parts)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_for_http(
    url: str, timeout: float = 30.0, process: Process | None = None, interval: float = 0.1
) -> httpx.Response:
    """Poll `url` with GET until it answers below 500; fail early when `process` exits."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise AssertionError(
                f"{process.name} exited with {process.popen.returncode} before {url} "
                f"answered:\n{process.tail()}"
            )
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code < 500:
                return response
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            last = error
        time.sleep(interval)
    raise AssertionError(f"{url} did not answer within {timeout}s (last: {last!r})")


# `ledgerflow up` as a newcomer runs it, and what a user does beside it.


def start_up(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """`ledgerflow up` on `port`, with its own embedded PostgreSQL in `data_dir` (no
    `DATABASE_URL`, no `AMQP_URL`), its output piped; it dies with the test."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AMQP_URL"}}
    command = ["up", "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen(
        [sys.executable, "-m", "ledgerflow.cli", *command],
        env=env,
        preexec_fn=die_with_parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ledgerflow_token(data_dir: Path, *args: str) -> str:
    """A token signed by the data dir's issuer, as a developer gets one."""
    printed = subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", "token", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return printed.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object a process writes (`urls.json`), `None` until it is whole."""
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def status_of(client: httpx.Client, path: str) -> int:
    """The status of a GET, 0 when nothing answered."""
    try:
        return client.get(path).status_code
    except httpx.HTTPError:
        return 0
