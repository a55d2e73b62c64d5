"""Reimbursement payments settled per second, against one payment at a time.

`python -m bench.reimbursements [--quick | --smoke]`. The payment rail simulator (create
answers PENDING after a delay, 2 s in the full run; the status settles after as long
again) and the mailbox run as processes, with one `ledgerflow worker reimbursements`
(100 calls in flight) on a fresh database, messaging on PostgreSQL.

- Baseline: a plain loop of `httpx.Client.post` create calls to the same rail, one after
  another (it does not even poll: a generous baseline).
- Ours: N reimbursements are submitted and approved through the application service;
  the clock runs from the first approval until all N are recorded `paid`, every one
  also mailed (and texted where a phone is on file) and polled at the configured
  interval (2 s in the full run, the platform's polling interval for partners and rails).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

from bench import (
    BENCH,
    LEDGERFLOW,
    Result,
    bench_parser,
    children,
    free_port,
    fresh_database,
    log_dir,
    server_of,
    size_of,
    wait_count,
    wait_http,
    wait_positions,
)
from domain.money import Money
from domain.reimbursements.commands import SubmitReimbursement
from domain.reimbursements.reference import BankAccount, BankAdministrator
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.reimbursements import ReimbursementsWorkflow
from processes.reimbursements.demo_banks import DEMO_BANKS, demo_banks


@dataclass(frozen=True)
class Scale:
    count: int
    delay_seconds: float
    poll_seconds: float
    baseline_calls: int
    timeout: float = 600.0


FULL = Scale(count=1000, delay_seconds=2.0, poll_seconds=2.0, baseline_calls=5)
QUICK = Scale(count=200, delay_seconds=0.5, poll_seconds=0.5, baseline_calls=6)
SMOKE = Scale(count=10, delay_seconds=0.05, poll_seconds=0.1, baseline_calls=2, timeout=60)


def baseline(rail_url: str, calls: int) -> float:
    """Payments created per second by a plain `httpx.Client.post` loop."""
    body = {"amount": "10.00", "currency": "EUR", "bank_id": "b", "account_id": "a"}
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        for i in range(calls):
            client.post(
                f"{rail_url}/v1/payments", json=body, headers={"Idempotency-Key": f"base-{i}"}
            ).raise_for_status()
        return calls / (time.perf_counter() - started)


async def _submit_and_approve(url: str, count: int) -> tuple[float, list[UUID]]:
    """Seed the demo banks, submit and approve `count` reimbursements; answer when the
    first approval was recorded, and the ids."""
    settings = Settings(database_url=url)
    async with platform_session(settings, only={"reimbursements"}) as platform:
        workflow = platform.get(ReimbursementsWorkflow)
        await workflow.seed(DEMO_BANKS)
        reference = demo_banks(BENCH)
        accounts = [a for a in reference if isinstance(a, BankAccount)]
        admins = {a.bank_id: a.id for a in reference if isinstance(a, BankAdministrator)}
        service = workflow.service
        submitted = []
        chunk = 200
        for start in range(0, count, chunk):
            submitted += await asyncio.gather(
                *(
                    service.submit(
                        SubmitReimbursement(
                            bank_account_id=accounts[i % len(accounts)].id,
                            amount=Money(
                                amount=f"{10 + i % 90}.50",  # type: ignore[arg-type]
                                currency=accounts[i % len(accounts)].currency,
                            ),
                            description=f"Bench expense {i}",
                        ),
                        BENCH,
                    )
                    for i in range(start, min(start + chunk, count))
                )
            )
        first: list[float] = []

        async def approve(reimbursement: Any) -> None:
            await service.approve(reimbursement.id, admins[reimbursement.bank_id], BENCH)
            if not first:
                first.append(time.perf_counter())

        for start in range(0, count, chunk):
            await asyncio.gather(*(approve(r) for r in submitted[start : start + chunk]))
    return first[0], [r.id for r in submitted]


def _paid(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM reimbursements_events WHERE topic LIKE %s",
            ("%Reimbursement.PaymentSucceeded",),
        ).fetchone()
    return int(row[0]) if row else 0


def run(scale: Scale, server: str) -> Result:
    rail_port, mailbox_port = free_port(), free_port()
    rail_url, mailbox_url = f"http://127.0.0.1:{rail_port}", f"http://127.0.0.1:{mailbox_port}"
    logs = log_dir()
    rail_env = {
        "LEDGERFLOW_PAYMENT_RAIL_CREATE_DELAY_SECONDS": str(scale.delay_seconds),
        "LEDGERFLOW_PAYMENT_RAIL_SETTLE_SECONDS": str(scale.delay_seconds),
        "LEDGERFLOW_PAYMENT_RAIL_FAILURE_RATE": "0",
    }
    simulators: list[tuple[list[str], dict[str, str], Path]] = [
        (
            [LEDGERFLOW, "simulator", "payment-rail", "--port", str(rail_port)],
            rail_env,
            logs / "reimbursements-rail.log",
        ),
        (
            [LEDGERFLOW, "simulator", "mailbox", "--port", str(mailbox_port)],
            {},
            logs / "reimbursements-mailbox.log",
        ),
    ]
    load_before = os.getloadavg()
    with children(*simulators) as (rail, box):
        wait_http(f"{rail_url}/__admin/faults", rail)
        wait_http(f"{mailbox_url}/__admin/faults", box)
        base = baseline(rail_url, scale.baseline_calls)
        with fresh_database(server, "reimbursements") as url:
            env = {
                "DATABASE_URL": url,
                "LEDGERFLOW_PAYMENT_RAIL_URL": rail_url,
                "LEDGERFLOW_MAILBOX_URL": mailbox_url,
                "LEDGERFLOW_WORKER_CONCURRENCY": "100",
                "LEDGERFLOW_OUTBOUND_TIMEOUT_SECONDS": str(max(5.0, 3 * scale.delay_seconds)),
                "LEDGERFLOW_REIMBURSEMENTS_PAYMENT_POLL_SECONDS": str(scale.poll_seconds),
                "LEDGERFLOW_LOG_LEVEL": "WARNING",
            }
            worker_spec = (
                [LEDGERFLOW, "worker", "reimbursements"],
                env,
                logs / "reimbursements-worker.log",
            )
            with children(worker_spec) as (worker,):
                wait_positions(url, "work_scheduler:reimbursements.%", 4, timeout=60.0)
                first_approved, _ = asyncio.run(_submit_and_approve(url, scale.count))
                wait_count(
                    lambda: _paid(url), scale.count, [worker], timeout=scale.timeout, what="paid"
                )
                elapsed = time.perf_counter() - first_approved
                mails = httpx.get(f"{mailbox_url}/v1/mail").json()["count"]
    return Result(
        key="reimbursements",
        name="payments",
        unit="paid/s",
        baseline=base,
        ours=scale.count / elapsed,
        baseline_label="httpx.Client.post loop of creates",
        details={
            "count": scale.count,
            "create_delay_s": scale.delay_seconds,
            "settle_s": scale.delay_seconds,
            "poll_interval_s": scale.poll_seconds,
            "elapsed_s": round(elapsed, 2),
            "mails": mails,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "python -m bench.reimbursements", __doc__, quick_help="200 payments, 0.5 s delays"
    )
    args = parser.parse_args(argv)
    scale = {"smoke": SMOKE, "quick": QUICK, "full": FULL}[size_of(args)]
    result = run(scale, server_of(args))
    print(
        f"reimbursement payments: {scale.count} approved, rail create delay and settle "
        f"{scale.delay_seconds:g} s, polled every {scale.poll_seconds:g} s"
    )
    print(result.line())
    print(f"   details: {result.details}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LEDGERFLOW_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
