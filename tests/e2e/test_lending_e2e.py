"""Loan applications with the platform and TWO pollers as separate processes over
RabbitMQ, a faulty bank partner, and one poller killed mid-run.

The API, projections, relay and ingester run as processes; `ledgerflow worker lending`
runs twice. Applications go out as `lending.ApplicationSubmitted` on the `ledgerflow.events`
exchange, results come back on `ledgerflow.commands.lending`. Then:

- every application is `completed` or `rejected`, as the partner decided it;
- each has exactly one `ApplicationDecided` event and one submission in the partner's
  ledger (a re-submission by the other poller is answered "already used", no effect),
  and its `attempts` are its last recorded failed submission's;
- killing a poller with SIGKILL while it holds work loses nothing: its leases expire and
  the other poller carries on.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import psycopg
import pytest

from tests.e2e.processes import Processes, free_port, wait_for_http
from tests.harness import eventually
from tests.issuer import TokenIssuer

pytestmark = pytest.mark.e2e

APPLICATIONS = 40
DEADLINE_SECONDS = 120.0
# The queues this test owns on the broker it is given: emptied first, so messages of an
# earlier run (another database) do not reach this one.
LENDING_QUEUES = (
    "ledgerflow.commands.lending",
    "ledgerflow.commands.lending.dead",
    "ledgerflow.subscriber.lending-poller",
    "ledgerflow.subscriber.lending-poller.dead",
)
FAULTS = {
    "seed": 20261121,
    "latency_ms": 50,
    "latency_jitter_ms": 100,
    "error_rate": 0.05,
    "reset_rate": 0.02,
    "lost_response_rate": 0.05,
}
ENV = {
    "LEDGERFLOW_LENDING_POLL_INTERVAL_SECONDS": "0.3",
    "LEDGERFLOW_LENDING_DEADLINE_SECONDS": "120",
    "LEDGERFLOW_WORK_LEASE_SECONDS": "3",
    "LEDGERFLOW_RETRY_BASE_SECONDS": "0.05",
    "LEDGERFLOW_RETRY_CAP_SECONDS": "0.3",
    "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": "1",
    "LEDGERFLOW_LOG_LEVEL": "WARNING",
}


async def _queues(amqp_url: str, delete: bool) -> bool:
    """Delete the lending queues (`delete`), or answer whether the poller's exists."""
    connection = await aio_pika.connect(amqp_url)
    try:
        if delete:
            channel = await connection.channel()
            for name in LENDING_QUEUES:
                await channel.queue_delete(name)
            return True
        channel = await connection.channel()
        try:
            await channel.declare_queue(LENDING_QUEUES[2], passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return False
        return True
    finally:
        await connection.close()


def leased_by(conn: psycopg.Connection[Any], pid: int) -> int:
    prefix = f"{socket.gethostname()}:{pid}:"
    row = conn.execute(
        "SELECT count(*) FROM ledgerflow_work WHERE starts_with(lease_owner, %s)", (prefix,)
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture()
def platform(
    fresh_database_url: str, amqp_url: str, tmp_path: Path, issuer: TokenIssuer
) -> Iterator[Processes]:
    asyncio.run(_queues(amqp_url, delete=True))
    env = {"DATABASE_URL": fresh_database_url, "AMQP_URL": amqp_url, **ENV, **issuer.env}
    processes = Processes(tmp_path / "logs", env=env)
    try:
        yield processes
    finally:
        processes.stop_all()


def test_two_pollers_over_rabbitmq_decide_every_application_once_through_a_crash(
    platform: Processes, fresh_database_url: str, amqp_url: str, issuer: TokenIssuer
) -> None:
    partner_port, api_port = free_port(), free_port()
    partner_url, api_url = f"http://127.0.0.1:{partner_port}", f"http://127.0.0.1:{api_port}"
    env = {"LEDGERFLOW_BANK_PARTNER_URL": partner_url}

    with (
        platform.logs_on_failure(),
        httpx.Client(base_url=partner_url, timeout=10) as partner,
        issuer.client(api_url, timeout=15, headers=issuer.as_client()) as api,
        psycopg.connect(fresh_database_url, autocommit=True) as db,
    ):
        simulator = platform.start(
            "bank-partner", "simulator", "bank-partner", "--port", str(partner_port)
        )
        wait_for_http(f"{partner_url}/__admin/faults", process=simulator)
        settings = {"seed": 3, "min_decision_seconds": 1, "max_decision_seconds": 3}
        assert partner.put("/__admin/settings", json=settings).status_code == 200
        assert partner.put("/__admin/faults", json=FAULTS).status_code == 200

        api_process = platform.start(
            "api", "api", "--host", "127.0.0.1", "--port", str(api_port), env=env
        )
        assert wait_for_http(f"{api_url}/health", process=api_process).status_code == 200
        # The pollers first: their durable subscription must exist before anything is
        # published, or the exchange has nowhere to route it.
        first = platform.start("poller-1", "worker", "lending", env=env)
        platform.start("poller-2", "worker", "lending", env=env)

        def subscribed() -> bool:
            platform.check_alive()
            return asyncio.run(_queues(amqp_url, delete=False))

        eventually(subscribed, 90, 0.3, what="the pollers to subscribe")
        for name in ("projections", "relay", "ingester"):
            platform.start(name, "worker", name, env=env)

        ids = []
        for _ in range(APPLICATIONS):
            answer = api.post(
                "/applications",
                json={
                    "first_name": "Amina",
                    "last_name": "Okafor",
                    "amount": {"amount": "2500.00", "currency": "EUR"},
                    "term_months": 12,
                    "email": "amina@example.com",
                },
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["status"] == "pending"
            ids.append(answer.json()["id"])

        def statuses() -> Counter[str]:
            return Counter(api.get(f"/applications/{i}").json()["status"] for i in ids)

        # Mid-run: some decided, some not, and the first poller holds work.
        def first_poller_busy() -> bool:
            platform.check_alive()
            return leased_by(db, first.pid) > 0 and 0 < statuses()["pending"] < APPLICATIONS

        eventually(first_poller_busy, 60, 0.02, what="the first poller to be mid-run")
        platform.sigkill("poller-1")
        pending_at_kill = statuses()["pending"]

        def all_decided() -> bool:
            platform.check_alive("api", "projections", "relay", "ingester", "poller-2")
            counts = statuses()
            return set(counts) <= {"completed", "rejected"}

        eventually(all_decided, DEADLINE_SECONDS, 0.5, what="every application to be decided")

        outcomes = {
            item["application_id"]: item
            for item in partner.get("/__admin/applications").json()["items"]
        }
        ledger = Counter(item["key"] for item in partner.get("/__admin/ledger").json()["items"])
        for application_id in ids:
            final = api.get(f"/applications/{application_id}").json()
            assert final["status"] == outcomes[application_id]["outcome"]
            assert final["job_id"] == outcomes[application_id]["job_id"]
            events = api.get(f"/applications/{application_id}/events").json()
            failed = [e["data"] for e in events if e["type"] == "SubmissionAttemptFailed"]
            assert [e["type"] for e in events if e["type"] != "SubmissionAttemptFailed"] == [
                "ApplicationSubmitted",
                "ApplicationDecided",
            ]
            assert final["attempts"] == (failed[-1]["attempt"] if failed else 0)
            assert ledger[application_id] == 1
        row = db.execute("SELECT count(*) FROM ledgerflow_work").fetchone()
        assert row is not None and row[0] == 0  # polling stopped for every application
        print(
            f"\nlending e2e: {APPLICATIONS} decided, {pending_at_kill} pending when poller-1 "
            f"was killed, partner requests {partner.get('/__admin/stats').json()['requests']}"
        )
