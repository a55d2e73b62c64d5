"""An SMS provider outage: calls it receives while down, and how fast the backlog drains.

`python -m bench.outage [--quick | --smoke]`. The SMS provider simulator (50 ms per call)
and two `ledgerflow worker sms` processes (100 calls in flight between them, one per
core) run on a fresh database. Two phases, in the same run:

1. Steady: N SMS queued with the provider healthy are sent; the provider's ledger gives
   the time from its first send to its last, hence the steady send rate.
2. Outage: the provider answers every call 503; N SMS are queued meanwhile; after the
   outage (60 s; `--quick` 10 s) it is healthy again. Printed:
   - calls the provider received during the outage, against the queue (N): the target
     is at most 10% (the breaker opens, then only probes go out);
   - the drain time, from the first successful probe (the provider's first send after
     the outage) to the last send, against N at the steady rate: the target is 1.2x.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import psycopg
from eventsourcing.utils import get_topic

from bench import (
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
from bench.send import _enqueue
from domain.sms.aggregate import Sms


@dataclass(frozen=True)
class Scale:
    sms: int
    outage_seconds: float


FULL = Scale(20_000, 60.0)
QUICK = Scale(2_000, 10.0)
SMOKE = Scale(400, 2.0)  # several rounds of the calls in flight, for a span to measure

LATENCY_MS = 50
IN_FLIGHT = 100
WORKERS = 2
SENT_TOPIC = get_topic(Sms.SmsSent)


def _sent(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM sms_events WHERE topic = %s", (SENT_TOPIC,)
        ).fetchone()
    return int(row[0]) if row else 0


def _send_span(provider: httpx.Client) -> tuple[int, float]:
    """The sends in the provider's ledger and the seconds from its first to its last."""
    items: list[dict[str, Any]] = provider.get("/__admin/ledger").json()["items"]
    times = sorted(datetime.fromisoformat(item["at"]) for item in items)
    return len(items), (times[-1] - times[0]).total_seconds() if times else 0.0


def run(scale: Scale, server: str) -> list[Result]:
    port = free_port()
    provider_url = f"http://127.0.0.1:{port}"
    logs = log_dir() / "outage"
    with fresh_database(server, "outage") as url:
        env = {
            "DATABASE_URL": url,
            "LEDGERFLOW_SMS_PROVIDER_URL": provider_url,
            "LEDGERFLOW_WORKER_CONCURRENCY": str(IN_FLIGHT // WORKERS),
            "LEDGERFLOW_LOG_LEVEL": "WARNING",
        }
        simulator = (
            [LEDGERFLOW, "simulator", "sms-provider", "--port", str(port)],
            {},
            logs / "provider.log",
        )
        with (
            children(simulator) as (sim,),
            httpx.Client(base_url=provider_url, timeout=60) as provider,
        ):
            wait_http(f"{provider_url}/__admin/faults", sim)
            provider.put("/__admin/faults", json={"latency_ms": LATENCY_MS}).raise_for_status()

            # 1. Steady: the backlog queued first, then the workers send it.
            asyncio.run(_enqueue(url, scale.sms))
            workers = [
                ([LEDGERFLOW, "worker", "sms"], env, logs / f"worker-sms-{n}.log")
                for n in range(1, WORKERS + 1)
            ]
            with children(*workers) as started:
                wait_count(lambda: _sent(url), scale.sms, started, timeout=600, what="SMS sent")
                steady_sent, steady_seconds = _send_span(provider)
                steady_rate = steady_sent / steady_seconds

                # 2. The outage, the same backlog queued during it.
                provider.delete("/__admin/ledger").raise_for_status()
                provider.delete("/__admin/stats").raise_for_status()
                provider.put("/__admin/faults", json={"error_rate": 1.0}).raise_for_status()
                began = time.monotonic()
                asyncio.run(_enqueue(url, scale.sms))
                time.sleep(max(0.0, scale.outage_seconds - (time.monotonic() - began)))
                outage_calls = int(provider.get("/__admin/stats").json()["requests"])
                provider.put("/__admin/faults", json={"error_rate": 0.0}).raise_for_status()
                wait_count(lambda: _sent(url), 2 * scale.sms, started, timeout=600, what="SMS sent")
                drained, drain_seconds = _send_span(provider)

    details = {
        "sms": scale.sms,
        "outage_seconds": scale.outage_seconds,
        "latency_ms": LATENCY_MS,
        "workers": WORKERS,
        "in_flight": IN_FLIGHT,
        "steady_sent_per_second": round(steady_rate, 1),
        "outage_calls": outage_calls,
        "drained": drained,
        "drain_seconds": round(drain_seconds, 2),
    }
    return [
        Result(
            key="outage-calls",
            name="calls",
            unit="calls",
            baseline=scale.sms,
            ours=outage_calls,
            baseline_label="the SMS queued (target: at most 0.10x)",
            details=details,
        ),
        Result(
            key="outage-drain",
            name="drain",
            unit="s",
            baseline=scale.sms / steady_rate,
            ours=drain_seconds,
            baseline_label="the backlog at the steady rate (target: at most 1.20x)",
            details=details,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("python -m bench.outage", __doc__, quick_help="2,000 SMS, a 10 s outage")
    args = parser.parse_args(argv)
    scale = {"smoke": SMOKE, "quick": QUICK, "full": FULL}[size_of(args)]
    results = run(scale, server_of(args))
    print(
        f"SMS provider outage: {scale.sms} SMS queued during a {scale.outage_seconds:g} s"
        f" outage, provider at {LATENCY_MS} ms, {IN_FLIGHT} calls in flight"
    )
    for result in results:
        print(result.line())
    print(f"   details: {results[0].details}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LEDGERFLOW_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
