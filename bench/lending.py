"""Loan polling: partner requests per application and decision-to-record latency.

`python -m bench.lending [--quick | --smoke]`. The bank partner simulator, the relay, the
ingester and one poller (`ledgerflow worker lending`) run as processes on a fresh
database, messaging on PostgreSQL. N applications are submitted at once (the target
load: 2,000, the partner deciding in 5 to 20 s, a 2 s interval). Then:

- requests per application: every request the partner received (submissions and polls),
  per application, against the minimum a fixed interval allows: one submission plus
  ceil(decision time / interval) polls, from the partner's own decision times;
- decision-to-record latency p99: from the moment the partner decided (its clock) to the
  `ApplicationDecided` event on our side, against the polling interval.

Both are printed as baseline, ours and ratio, measured in the same run.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import httpx

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
    wait_http,
)
from domain.lending.commands import SubmitApplication
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.lending import LendingWorkflow


@dataclass(frozen=True)
class Scale:
    applications: int
    min_seconds: float
    max_seconds: float
    interval: float


FULL = Scale(2000, 5.0, 20.0, 2.0)
QUICK = Scale(300, 2.0, 6.0, 2.0)
SMOKE = Scale(20, 0.3, 1.0, 0.3)

BODY = SubmitApplication.model_validate(
    {
        "first_name": "Amina",
        "last_name": "Okafor",
        "amount": {"amount": "2500.00", "currency": "EUR"},
        "term_months": 12,
        "email": "amina@example.com",
    }
)


async def _submit(settings: Settings, count: int) -> list[UUID]:
    async with platform_session(settings, only={"lending"}) as platform:
        service = platform.get(LendingWorkflow).service
        applications = await asyncio.gather(*(service.submit(BODY, BENCH) for _ in range(count)))
    return [application.id for application in applications]


async def _decided_at(settings: Settings, ids: list[UUID]) -> dict[UUID, datetime | None]:
    async with platform_session(settings, only={"lending"}) as platform:
        service = platform.get(LendingWorkflow).service
        applications = await asyncio.gather(*(service.get(i) for i in ids))
    return {a.id: a.decided_at for a in applications}


def _count_decided(settings: Settings, ids: list[UUID]) -> int:
    decided = asyncio.run(_decided_at(settings, ids))
    return sum(1 for at in decided.values() if at is not None)


def run(scale: Scale, server: str, pollers: int = 1) -> list[Result]:
    partner_port = free_port()
    partner_url = f"http://127.0.0.1:{partner_port}"
    logs = log_dir() / "lending"
    with fresh_database(server, "lending") as url:
        env = {
            "DATABASE_URL": url,
            "AMQP_URL": "",  # the PostgreSQL queue and bus
            "LEDGERFLOW_BANK_PARTNER_URL": partner_url,
            "LEDGERFLOW_BANK_PARTNER_SEED": "2026",
            "LEDGERFLOW_BANK_PARTNER_MIN_DECISION_SECONDS": str(scale.min_seconds),
            "LEDGERFLOW_BANK_PARTNER_MAX_DECISION_SECONDS": str(scale.max_seconds),
            "LEDGERFLOW_LENDING_POLL_INTERVAL_SECONDS": str(scale.interval),
            "LEDGERFLOW_LENDING_DEADLINE_SECONDS": str(scale.max_seconds * 10 + 60),
            "LEDGERFLOW_WORKER_CONCURRENCY": "200",
            "LEDGERFLOW_LOG_LEVEL": "WARNING",
        }
        settings = Settings(database_url=url)
        asyncio.run(_submit(settings, 0))  # create the tables before the workers start
        specs = [
            (
                [LEDGERFLOW, "simulator", "bank-partner", "--port", str(partner_port)],
                env,
                logs / "partner.log",
            ),
            *(
                ([LEDGERFLOW, "worker", "lending"], env, logs / f"poller-{n}.log")
                for n in range(1, pollers + 1)
            ),
            ([LEDGERFLOW, "worker", "ingester"], env, logs / "ingester.log"),
            ([LEDGERFLOW, "worker", "relay"], env, logs / "relay.log"),
        ]
        with children(*specs) as started:
            wait_http(f"{partner_url}/__admin/stats", started[0])
            time.sleep(2.0)  # let the workers subscribe and listen
            with httpx.Client(base_url=partner_url, timeout=30) as partner:
                partner.delete("/__admin/stats")
                ids = asyncio.run(_submit(settings, scale.applications))
                deadline = time.monotonic() + scale.max_seconds * 3 + 120
                while _count_decided(settings, ids) < len(ids):
                    for child in started:
                        child.check_alive()
                    if time.monotonic() > deadline:
                        raise RuntimeError("applications still undecided at the deadline")
                    time.sleep(1.0)
                requests = int(partner.get("/__admin/stats").json()["requests"])
                assessments = partner.get("/__admin/applications").json()["items"]
        recorded = asyncio.run(_decided_at(settings, ids))

    minimum = 0
    latencies: list[float] = []
    for item in assessments:
        submitted = datetime.fromisoformat(item["submitted_at"])
        decides = datetime.fromisoformat(item["decides_at"])
        minimum += 1 + math.ceil((decides - submitted).total_seconds() / scale.interval)
        at = recorded[UUID(item["application_id"])]
        assert at is not None
        latencies.append((at - decides).total_seconds())
    count = len(ids)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
    details = {
        "applications": count,
        "decision_seconds": [scale.min_seconds, scale.max_seconds],
        "interval_seconds": scale.interval,
        "pollers": pollers,
        "partner_requests": requests,
        "latency_p50_seconds": round(statistics.median(latencies), 3),
        "latency_p99_seconds": round(p99, 3),
        "latency_max_seconds": round(latencies[-1], 3),
    }
    return [
        Result(
            key="lending-requests",
            name="polls",
            unit="requests/application",
            baseline=minimum / count,
            ours=requests / count,
            baseline_label=f"minimum at a {scale.interval:g} s interval",
            details=details,
        ),
        Result(
            key="lending-latency",
            name="latency",
            unit="s",
            baseline=scale.interval,
            ours=p99,
            baseline_label="the polling interval",
            details=details,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("python -m bench.lending", __doc__, quick_help="300 applications, 2-6 s")
    parser.add_argument("--pollers", type=int, default=1, help="poller processes (default 1)")
    args = parser.parse_args(argv)
    scale = {"smoke": SMOKE, "quick": QUICK, "full": FULL}[size_of(args)]
    results = run(scale, server_of(args), args.pollers)
    print(
        f"lending polling: {scale.applications} applications, partner deciding in "
        f"{scale.min_seconds:g}-{scale.max_seconds:g} s, interval {scale.interval:g} s"
    )
    for result in results:
        print(result.line())
    print(f"   details: {results[0].details}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LEDGERFLOW_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
