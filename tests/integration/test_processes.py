"""The process registry on a real PostgreSQL with real processes: a worker registers and
heartbeats; killed with SIGKILL under the supervisor `ledgerflow up` runs, it is restarted,
and its restart and how it died show in `GET /status` and `ledgerflow status`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ledgerflow.settings import Settings
from ledgerflow.supervisor import Child, Supervisor
from ledgerflow.web import create_app
from simulators.registry import running
from tests.harness import eventually
from tests.issuer import TokenIssuer

ROOT = Path(__file__).resolve().parents[2]


def registered(database_url: str, name: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM ledgerflow_processes WHERE name = %s", (name,)
        ).fetchone()


def test_a_killed_worker_is_restarted_and_its_restart_and_exit_are_shown(
    fresh_database_url: str, issuer: TokenIssuer, tmp_path: Path
) -> None:
    url = fresh_database_url
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        "LEDGERFLOW_LOG_LEVEL": "WARNING",
        "LEDGERFLOW_PROCESS_HEARTBEAT_SECONDS": "1",
    }
    worker = Child(
        "worker-sms",
        [sys.executable, "-m", "ledgerflow.cli", "worker", "sms"],
        tmp_path / "worker-sms.log",
        env={"LEDGERFLOW_PROCESS_NAME": "worker-sms"},
        registers=True,
    )
    supervisor = Supervisor([worker], env)
    supervisor.start()
    try:
        assert worker.process is not None
        first_pid = worker.process.pid

        def heartbeating(pid: int) -> dict[str, Any] | None:
            row = registered(url, "worker-sms")
            alive = row and row["pid"] == pid and row["last_seen_at"] > row["started_at"]
            return row if alive else None

        first = eventually(lambda: heartbeating(first_pid), timeout=60, what="registered")
        assert first["restarts"] == 0 and first["last_exit_at"] is None

        os.kill(first_pid, signal.SIGKILL)
        worker.process.wait()

        def restarted() -> bool:
            supervisor.tend()  # as `ledgerflow up`'s loop does
            return worker.process is not None and worker.process.pid != first_pid

        eventually(restarted, timeout=60, what="restarted")
        second_pid = worker.process.pid
        eventually(lambda: heartbeating(second_pid), timeout=60, what="registered again")

        settings = Settings(database_url=url, **issuer.trusted)
        with running(create_app(settings)) as api_url, issuer.client(api_url) as api:
            answer = api.get("/status")
        assert answer.status_code == 200
        [shown] = [p for p in answer.json()["processes"] if p["name"] == "worker-sms"]
        assert shown["pid"] == second_pid
        assert shown["restarts"] == 1
        assert shown["last_exit_signal"] == "SIGKILL" and shown["last_exit_code"] is None
        died, back = (datetime.fromisoformat(shown[at]) for at in ("last_exit_at", "up_since"))
        assert back >= died  # its new run started after the supervisor saw it die
        assert shown["stale"] is False

        printed = subprocess.run(
            [sys.executable, "-m", "ledgerflow.cli", "status"],
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        [line] = [row for row in printed.splitlines() if "worker-sms" in row]
        assert str(second_pid) in line and "SIGKILL" in line
    finally:
        worker.stop()
