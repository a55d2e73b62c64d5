"""The SMS workflow with the platform as real processes, a faulty provider and a crash.

The simulator injects errors, resets, timeouts and lost responses, and does NOT honour
idempotency keys, so every duplicate send shows in its ledger. Mid-run the SMS worker is
killed with SIGKILL (calls in flight) and another one started. Then:

- every accepted SMS is `sent`, and every SMS id is in the provider's ledger (none lost);
- duplicates (ledger entries per key minus one, summed) are at most the calls the killed
  worker had in flight plus the responses the simulator dropped: a duplicate needs a call
  whose answer never arrived.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

SMS_COUNT = 300
# Kill the worker once the provider has seen this many calls (about a third of the SMS).
KILL_AFTER_REQUESTS = SMS_COUNT // 3
DEADLINE_SECONDS = 60.0

FAULTS = {
    "seed": 20260611,
    "latency_ms": 20,
    "latency_jitter_ms": 30,
    "error_rate": 0.1,
    "timeout_rate": 0.02,
    "reset_rate": 0.05,
    "lost_response_rate": 0.1,
}

WORKER_ENV = {
    "LEDGERFLOW_WORKER_CONCURRENCY": "50",
    "LEDGERFLOW_WORK_LEASE_SECONDS": "3",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.5",
    "LEDGERFLOW_RETRY_BUDGET_SECONDS": "60",
    "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": "1",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}


@pytest.fixture()
def platform(fresh_database_url: str, tmp_path: Path, issuer: TokenIssuer) -> Iterator[Processes]:
    processes = Processes(tmp_path / "logs", env={"DATABASE_URL": fresh_database_url, **issuer.env})
    try:
        yield processes
    finally:
        processes.stop_all()


def leased_by(conn: psycopg.Connection[Any], pid: int) -> int:
    """Due-work rows leased by the worker process `pid` (an upper bound of its calls)."""
    prefix = f"{socket.gethostname()}:{pid}:"
    row = conn.execute(
        "SELECT count(*) FROM ledgerflow_work WHERE starts_with(lease_owner, %s)", (prefix,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def listed_sent(api: httpx.Client) -> set[str]:
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "sent", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/sms", params=params)
        page.raise_for_status()
        body = page.json()
        seen |= {item["id"] for item in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_every_sms_is_sent_through_faults_and_a_killed_worker_with_bounded_duplicates(
    platform: Processes, fresh_database_url: str, issuer: TokenIssuer
) -> None:
    started = time.monotonic()
    sim_port, api_port = free_port(), free_port()
    sim_url, api_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{api_port}"
    env = {
        **WORKER_ENV,
        "LEDGERFLOW_SMS_PROVIDER_URL": sim_url,
        # One client sends every SMS here, faster than a client's default limit.
        "LEDGERFLOW_RATE_LIMIT_SMS": "100000/second",
    }

    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=sim_url, timeout=10) as sim,
        issuer.client(
            api_url,
            timeout=15,
            limits=httpx.Limits(max_connections=32),
            headers=issuer.as_client(),
        ) as api,
        psycopg.connect(fresh_database_url, autocommit=True) as db,
    ):
        # The provider first: faulty, and not honouring idempotency keys.
        simulator = platform.start(
            "sms-provider", "simulator", "sms-provider", "--port", str(sim_port)
        )
        wait_for_http(f"{sim_url}/__admin/faults", process=simulator)
        assert sim.put("/__admin/faults", json=FAULTS).status_code == 200
        assert (
            sim.put("/__admin/settings", json={"honour_idempotency_keys": False}).status_code == 200
        )

        # The API (it creates the schema), then the workers.
        api_process = platform.start(
            "api", "api", "--host", "127.0.0.1", "--port", str(api_port), env=env
        )
        assert wait_for_http(f"{api_url}/health", process=api_process).status_code == 200
        for name in ("projections", "relay"):
            platform.start(name, "worker", name, env=env)
        first = platform.start("sms-1", "worker", "sms", env=env)

        def work_table_ready() -> bool:
            platform.check_alive()
            row = db.execute("SELECT to_regclass('ledgerflow_work') IS NOT NULL").fetchone()
            return bool(row and row[0])

        eventually(work_table_ready, 30, 0.1, what="the SMS worker to create its work table")

        # Send the SMS concurrently while watching the worker.
        def post(i: int) -> str:
            body = {
                "message_id": f"e2e-{uuid.uuid4()}",
                "phone_number": "+254712345678",
                "text": f"Your code is {i:04d}",
                "correlation_id": f"e2e-{i}",
            }
            answer = api.post("/sms", json=body)
            assert answer.status_code == 202, answer.text
            return str(answer.json()["id"])

        with ThreadPoolExecutor(max_workers=24) as pool:
            futures: list[Future[str]] = [pool.submit(post, i) for i in range(SMS_COUNT)]

            # Mid-run: the provider saw a good part of the calls, and the worker holds leases.
            def worker_busy() -> int | None:
                platform.check_alive()
                requests = int(sim.get("/__admin/stats").json()["requests"])
                if requests >= KILL_AFTER_REQUESTS and leased_by(db, first.pid) > 0:
                    return requests
                return None

            requests_at_kill = eventually(
                worker_busy, 30, 0.01, what="the SMS worker to be mid-run"
            )
            killed_pid = platform.sigkill("sms-1")
            in_flight_at_kill = leased_by(db, killed_pid)
            # What the provider had sent when the worker died (before another one starts).
            keys_at_kill = {item["key"] for item in sim.get("/__admin/ledger").json()["items"]}
            platform.start("sms-2", "worker", "sms", env=env)
            ids = [future.result() for future in futures]

        posted = time.monotonic()
        assert len(set(ids)) == SMS_COUNT
        assert in_flight_at_kill > 0, "the worker was killed with no call in flight"

        # Every accepted SMS ends up sent (the list reads the projection, so poll it).
        def all_sent() -> bool:
            platform.check_alive("sms-provider", "api", "projections", "relay", "sms-2")
            return set(ids) <= listed_sent(api)

        eventually(all_sent, DEADLINE_SECONDS, 0.25, what="every SMS to be listed as sent")
        all_sent_at = time.monotonic()

        # ... and each one, read from its events, says so.
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = Counter(
                pool.map(lambda sms_id: api.get(f"/sms/{sms_id}").json()["status"], ids)
            )
        assert statuses == {"sent": SMS_COUNT}, statuses

        # The provider's view: none lost, and duplicates only where an answer went missing.
        ledger = sim.get("/__admin/ledger").json()
        stats = sim.get("/__admin/stats").json()
        per_key = Counter(item["key"] for item in ledger["items"])
        missing = set(ids) - set(per_key)
        unknown = set(per_key) - set(ids)
        duplicates = sum(count - 1 for count in per_key.values())
        lost_in_ledger = sum(1 for item in ledger["items"] if item["response_lost"])
        lost_responses = max(int(stats["lost_responses"]), lost_in_ledger)
        bound = in_flight_at_kill + lost_responses

        print(
            f"\nSMS e2e: sent={statuses['sent']}/{SMS_COUNT} ledger_entries={ledger['count']}"
            f" duplicates={duplicates} in_flight_at_kill={in_flight_at_kill}"
            f" lost_responses={stats['lost_responses']} (ledger response_lost={lost_in_ledger})"
            f" bound={bound}\n"
            f"  provider stats={stats}\n"
            f"  killed pid={killed_pid} after {requests_at_kill} provider calls,"
            f" {len(keys_at_kill)} SMS seen by the provider at the kill\n"
            f"  timings: posted+killed {posted - started:.1f}s,"
            f" all sent {all_sent_at - started:.1f}s, total {time.monotonic() - started:.1f}s"
        )

        assert not missing, f"{len(missing)} SMS never reached the provider"
        assert not unknown, f"the provider sent {len(unknown)} SMS nobody asked for"
        assert len(keys_at_kill) < SMS_COUNT, "the worker was killed after every SMS went out"
        assert duplicates <= bound, (
            f"{duplicates} duplicates > {in_flight_at_kill} in flight at the kill"
            f" + {lost_responses} lost responses"
        )
