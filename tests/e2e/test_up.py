"""`ledgerflow up` on a machine with nothing but Python: embedded PostgreSQL, simulators,
API and workers as child processes, restarted when they die, stopped on SIGTERM; it is
the token issuer, and `ledgerflow token` signs what its API accepts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from ledgerflow.supervisor import free_port
from ledgerflow.workers import workers
from ledgerflow.workflows import WORKFLOWS
from tests.e2e.processes import bearer, ledgerflow_token, read_json, start_up, status_of
from tests.harness import eventually


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _nice(pid: int) -> int:
    # /proc/PID/stat: the nice value is field 19, the 17th after the parenthesised name.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.e2e
def test_up_runs_the_platform_restarts_children_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AMQP_URL"}}
    port = free_port()
    data_dir = tmp_path / "data"
    up = start_up(data_dir, port)
    try:
        urls: dict[str, Any] = eventually(lambda: read_json(data_dir / "urls.json"), timeout=90)
        assert urls["api"] == f"http://127.0.0.1:{port}"
        expected = {name for cls in WORKFLOWS for name in cls.simulators}
        assert set(urls["simulators"]) == expected  # every third party has its simulator
        public = httpx.Client(base_url=urls["api"], timeout=10)
        eventually(lambda: status_of(public, "/health") == 200, timeout=60)
        assert public.get("/rest/v1/invoices").status_code == 401
        keys = public.get("/.well-known/jwks.json").json()["keys"]
        operator = ledgerflow_token(data_dir, "--role", "operator")
        client = ledgerflow_token(data_dir, "--role", "client", "--scope", "sms:send sms:read")
        assert {_kid(operator), _kid(client)} == {key["kid"] for key in keys}
        api = httpx.Client(base_url=urls["api"], timeout=10, headers=bearer(operator))
        # The first start loaded the reference data set (`ledgerflow seed antaeus`).
        eventually(lambda: len(api.get("/rest/v1/invoices").json()) == 1000, timeout=30)

        api.headers.update(bearer(client))
        sms = api.post(
            "/sms",
            json={"message_id": str(uuid.uuid4()), "phone_number": "+254712345678", "text": "up"},
        ).json()
        eventually(lambda: api.get(f"/sms/{sms['id']}").json()["status"] == "sent", timeout=30)

        # Each process serves its metrics on a loopback port of its own.
        expected_metrics = {"api"} | {f"worker-{name}" for name in workers()}
        assert set(urls["metrics"]) == expected_metrics
        assert all(url.startswith("http://127.0.0.1:") for url in urls["metrics"].values())
        assert len({url for url in urls["metrics"].values()}) == len(expected_metrics)
        requests = eventually(
            lambda: _metric_lines(
                urls["metrics"]["api"],
                "ledgerflow_http_request_duration_seconds_count",
                'route="/sms"',
                'method="POST"',
                'status="202"',
            ),
            timeout=30,
        )
        assert float(requests[0].rsplit(" ", 1)[1]) >= 1
        assert eventually(
            lambda: _metric_lines(urls["metrics"]["worker-sms"], 'outcome="succeeded"'), timeout=30
        )
        assert eventually(
            lambda: _metric_lines(
                urls["metrics"]["worker-projections"], "ledgerflow_status_up 1.0"
            ),
            timeout=30,
        )

        # `ledgerflow status` finds the database through the data dir, and fits 60 columns.
        assert (data_dir / "database.url").stat().st_mode & 0o777 == 0o600
        status = subprocess.run(
            [sys.executable, "-m", "ledgerflow.cli", "status", "--data-dir", str(data_dir)],
            env={**env, "COLUMNS": "60"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert "sms_view" in status.stdout and "…" not in status.stdout
        assert max(len(line) for line in status.stdout.splitlines()) <= 60

        # Every worker of every workflow runs: their connections stay well under
        # PostgreSQL's default limit of 100.
        connections = _connections(data_dir)
        assert 0 < connections <= 70, f"{connections} connections to the embedded server"

        pids = read_json(data_dir / "processes.json") or {}
        assert {
            "api",
            "worker-sms",
            "worker-projections",
            "worker-relay",
            "worker-ingester",
            "simulator-sms-provider",
        } <= set(pids)
        # Background workers give the API the CPU first (LEDGERFLOW_WORKER_NICE).
        assert _nice(pids["api"]) == 0
        assert {_nice(pids[name]) for name in pids if name.startswith("worker-")} == {10}
        os.kill(pids["worker-sms"], signal.SIGKILL)
        restarted = eventually(
            lambda: (
                (read_json(data_dir / "processes.json") or {}).get("worker-sms")
                not in (None, pids["worker-sms"])
                and read_json(data_dir / "processes.json")
            ),
            timeout=30,
        )
        again = api.post(
            "/sms",
            json={
                "message_id": str(uuid.uuid4()),
                "phone_number": "+254712345678",
                "text": "again",
            },
        ).json()
        eventually(lambda: api.get(f"/sms/{again['id']}").json()["status"] == "sent", timeout=30)

        # Every process registered; the supervisor counted the restart and how it died.
        def registered() -> dict[str, Any] | None:
            answer = public.get("/status", headers=bearer(operator)).json()["processes"]
            shown = {process["name"]: process for process in answer}
            sms_worker = shown.get("worker-sms")
            fresh = sms_worker and sms_worker["pid"] == restarted["worker-sms"]
            return shown if fresh and expected_metrics <= set(shown) else None

        shown = eventually(registered, timeout=30)
        assert shown["worker-sms"]["restarts"] == 1
        assert shown["worker-sms"]["last_exit_signal"] == "SIGKILL"
        assert not any(process["stale"] for process in shown.values())
        assert eventually(
            lambda: _metric_lines(
                urls["metrics"]["worker-projections"],
                "ledgerflow_process_restarts{",
                'process="worker-sms"',
                "} 1.0",
            ),
            timeout=30,
        )

        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        assert not any(_alive(pid) for pid in restarted.values())
        output = up.stdout.read() if up.stdout else ""
        assert "ledgerflow is up" in output and "worker-sms exited" in output
        assert not (data_dir / "database.url").exists()  # its server stopped with it
    except BaseException:
        if up.poll() is None:
            up.kill()
        print("ledgerflow up printed:\n", up.communicate(timeout=10)[0])
        for log in sorted((data_dir / "logs").glob("*.log")):
            print(f"--- {log.name}\n", "".join(log.read_text().splitlines(True)[-15:]))
        raise


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _connections(data_dir: Path) -> int:
    import psycopg

    url = f"postgresql://postgres@/ledgerflow?host={data_dir / 'pg'}"
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'ledgerflow'"
        ).fetchone()
    return int(row[0]) - 1 if row else 0  # less this one


def _metric_lines(url: str, *texts: str) -> list[str]:
    """The lines of the metrics at `url` that contain each of `texts`."""
    try:
        served = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return []
    return [line for line in served.splitlines() if all(text in line for text in texts)]
