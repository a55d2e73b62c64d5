"""Monthly billing end to end: N pending invoices, provider latency 50 ms, 100 calls in
flight in total across the billing worker processes.

`python -m bench.billing [--quick]`. Baseline: the ideal wall time, invoices x latency /
calls in flight (100,000 x 50 ms / 100 = 50 s), the time the provider alone needs. Ours:
from the run's start (the `RunStarted` save, by a platform already open) until the invoices
read model shows every invoice settled (selection, write-ahead and outcome events,
projection), with two billing worker processes (one per core of the machine the figures
come from; `--workers N` for more) at the workers' default CPU priority (niced, so the
simulator standing in for the remote provider, and PostgreSQL, answer promptly: 4-5%
faster than at normal priority in alternating runs). Also prints the double charges
counted in the simulator's ledger (which does not honour idempotency keys, so any would
show).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

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
)
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.billing import BillingWorkflow

PRESETS = {"full": 100_000, "quick": 2_000, "smoke": 100}


def _records(count: int) -> list[CustomerRecord | InvoiceRecord]:
    records: list[CustomerRecord | InvoiceRecord] = []
    customers = max(1, count // 10)
    for customer in range(1, customers + 1):
        records.append(CustomerRecord(customer, "EUR"))
    for invoice in range(1, count + 1):
        records.append(
            InvoiceRecord(invoice, (invoice - 1) % customers + 1, _amount(invoice), "EUR", False)
        )
    return records


def _amount(n: int) -> Any:
    from decimal import Decimal

    return Decimal(1000 + n % 49000) / 100


async def _seed(url: str, count: int) -> float:
    started = time.perf_counter()
    async with platform_session(Settings(database_url=url), only={"billing"}) as platform:
        await platform.get(BillingWorkflow).service.load(_records(count), BENCH, chunk=1000)
    return time.perf_counter() - started


async def _start_run(url: str) -> float:
    """Starts the period's run as an operator's request would, through a platform already
    open; answers when it started (`time.perf_counter()`)."""
    async with platform_session(Settings(database_url=url), only={"billing"}) as platform:
        started = time.perf_counter()
        service = platform.get(BillingWorkflow).service
        await service.start_run(service.current_period(), "manual", BENCH)
        return started


def _settled(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM billing_invoices WHERE status NOT IN ('pending', 'charging')"
    ).fetchone()
    return int(row[0]) if row else 0


def _wait_ready(url: str, workers: int, timeout: float = 60.0) -> None:
    """Until the billing workers' schedulers and the projection caught up with the seed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT follower, position FROM ledgerflow_positions WHERE upstream = 'billing'"
            ).fetchall()
            head = conn.execute("SELECT max(notification_id) FROM billing_events").fetchone()
        positions: dict[str, int] = dict(rows)
        if (
            head
            and positions.get("billing_view") == head[0]
            and positions.get("work_scheduler:billing.charge") == head[0]
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"billing workers did not get ready within {timeout}s")


def run(
    server: str,
    *,
    count: int,
    workers: int = 2,
    in_flight: int = 100,
    latency_ms: float = 50.0,
    timeout: float = 900.0,
) -> tuple[Result, int]:
    port = free_port()
    sim_url = f"http://127.0.0.1:{port}"
    logs = log_dir()
    sim = (
        [LEDGERFLOW, "simulator", "payment-provider", "--port", str(port)],
        {"LEDGERFLOW_PAYMENT_PROVIDER_HONOUR_IDEMPOTENCY_KEYS": "false"},
        logs / "billing-simulator.log",
    )
    with children(sim) as (simulator,), fresh_database(server, "billing") as url:
        wait_http(f"{sim_url}/__admin/faults", simulator)
        httpx.put(f"{sim_url}/__admin/faults", json={"latency_ms": latency_ms}).raise_for_status()
        seed_s = asyncio.run(_seed(url, count))
        env = {
            "DATABASE_URL": url,
            "LEDGERFLOW_PAYMENT_PROVIDER_URL": sim_url,
            "LEDGERFLOW_BILLING_SCHEDULER": "false",
            # Calls in flight are shared by the workers. Each holds four times as many
            # charges in progress as it has calls out: a charge spends about as long in
            # its read, write-ahead and recording as in its call, and a charge ready and
            # waiting takes a connection the moment one is free (twice as many: about 5%
            # slower in alternating runs).
            "LEDGERFLOW_BILLING_CALLS_IN_FLIGHT": str(in_flight // workers),
            "LEDGERFLOW_WORKER_CONCURRENCY": str(4 * in_flight // workers),
            "LEDGERFLOW_LOG_LEVEL": "WARNING",
        }
        specs: list[tuple[list[str], dict[str, str], Path]] = [
            ([LEDGERFLOW, "worker", "billing"], env, logs / f"billing-worker-{i}.log")
            for i in range(workers)
        ]
        specs.append(([LEDGERFLOW, "worker", "projections"], env, logs / "billing-projections.log"))
        with children(*specs) as processes:
            _wait_ready(url, workers)
            # One connection for the polling: a new one per poll costs the server a fork.
            with psycopg.connect(url, autocommit=True) as poll:
                started = asyncio.run(_start_run(url))
                wait_count(
                    lambda: _settled(poll),
                    count,
                    processes,
                    timeout=timeout,
                    what="invoices settled",
                    interval=0.5,
                )
                elapsed = time.perf_counter() - started
        ledger = httpx.get(f"{sim_url}/__admin/ledger", timeout=60).json()["items"]
    per_invoice: dict[int, int] = {}
    for entry in ledger:
        key = int(entry["request"]["invoice_id"])
        per_invoice[key] = per_invoice.get(key, 0) + 1
    doubles = sum(n - 1 for n in per_invoice.values() if n > 1)
    ideal = count * latency_ms / 1000 / in_flight
    result = Result(
        key="billing",
        name="billing",
        unit="s",
        baseline=ideal,
        ours=elapsed,
        baseline_label=f"ideal: {count} x {latency_ms:.0f} ms / {in_flight} in flight",
        details={
            "count": count,
            "workers": workers,
            "seed_s": seed_s,
            "charged": len(per_invoice),
            "double_charges": doubles,
            "loadavg": os.getloadavg(),
        },
    )
    return result, doubles


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "python -m bench.billing",
        None,
        quick_help=f"{PRESETS['quick']} invoices",
        smoke_help=argparse.SUPPRESS,
    )
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=2, help="billing worker processes (default: one per core)"
    )
    args = parser.parse_args(argv)
    count = args.count or PRESETS[size_of(args)]
    result, doubles = run(server_of(args), count=count, workers=args.workers)
    print(result.line())
    print(
        f"(billing) {count} invoices in {result.ours:.1f} s ({count / result.ours:.0f}/s),"
        f" ideal {result.baseline:.1f} s, ratio {result.ratio:.2f}x (target 1.5x),"
        f" double charges {doubles}, seeding {result.details['seed_s']:.1f} s"
    )
    return 0 if doubles == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
