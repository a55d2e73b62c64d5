"""(b) End-to-end SMS sent per second, simulator at 100 ms, against one call at a time.

The simulator (`ledgerflow simulator sms-provider`) answers every call after 100 ms.
Baseline: a plain loop of `httpx.Client.post` calls to it, one after another, each with
its own `Idempotency-Key`. Ours: `ledgerflow worker sms` (100 calls in flight each) and
`ledgerflow worker projections` as processes; N SMS are accepted through the SMS
application service (group commit), and the clock runs from the first acceptance until
`sms_view` shows all N `sent`.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import (
    BENCH,
    LEDGERFLOW,
    Result,
    children,
    free_port,
    fresh_database,
    log_dir,
    wait_count,
    wait_http,
    wait_positions,
)
from domain.sms.commands import SendSms
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.sms import SmsWorkflow

PHONE = "+254712345678"


def baseline(base_url: str, calls: int) -> float:
    """Calls per second of a plain `httpx.Client.post` loop, one after another."""
    with httpx.Client(timeout=10) as client:
        client.post(  # one untimed call: connection set-up
            f"{base_url}/v1/messages",
            json={"to": PHONE, "text": "hi"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ).raise_for_status()
        started = time.perf_counter()
        for _ in range(calls):
            client.post(
                f"{base_url}/v1/messages",
                json={"to": PHONE, "text": "hi"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ).raise_for_status()
        return calls / (time.perf_counter() - started)


async def _enqueue(url: str, count: int) -> float:
    """Accept `count` SMS through the application service; answer when the first was."""
    settings = Settings(database_url=url)
    run = uuid.uuid4().hex[:8]
    first: list[float] = []
    async with platform_session(settings, only={"sms"}) as platform:
        service = platform.get(SmsWorkflow).service

        async def send(i: int) -> None:
            await service.send(
                SendSms(message_id=f"bench-{run}-{i}", phone_number=PHONE, text="hi"),
                BENCH,
            )
            if not first:
                first.append(time.perf_counter())

        chunk = 500
        for start in range(0, count, chunk):
            await asyncio.gather(*(send(i) for i in range(start, min(start + chunk, count))))
    return first[0]


def _sent(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sms_view WHERE status = 'sent'").fetchone()
    return int(row[0]) if row else 0


def run(
    server: str,
    *,
    count: int = 3000,
    baseline_calls: int = 30,
    sms_workers: int = 2,
    in_flight: int = 100,
    latency_ms: float = 100.0,
    timeout: float = 300.0,
) -> Result:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    logs = log_dir()
    load_before = os.getloadavg()
    simulator: tuple[list[str], dict[str, str], Path] = (
        [LEDGERFLOW, "simulator", "sms-provider", "--port", str(port)],
        {},
        logs / "send-simulator.log",
    )
    with children(simulator) as (sim,):
        wait_http(f"{base_url}/__admin/faults", sim)
        httpx.put(f"{base_url}/__admin/faults", json={"latency_ms": latency_ms}).raise_for_status()
        base = baseline(base_url, baseline_calls)
        with fresh_database(server, "b") as url:
            env = {
                "DATABASE_URL": url,
                "LEDGERFLOW_SMS_PROVIDER_URL": base_url,
                # The benchmarks' fixed 100 calls in flight, shared by the worker processes.
                "LEDGERFLOW_WORKER_CONCURRENCY": str(in_flight // sms_workers),
            }
            specs: list[tuple[list[str], dict[str, str], Any]] = [
                ([LEDGERFLOW, "worker", "sms"], env, logs / f"send-worker-sms-{i}.log")
                for i in range(sms_workers)
            ]
            specs.append(
                ([LEDGERFLOW, "worker", "projections"], env, logs / "send-projections.log")
            )
            with children(*specs) as workers:
                wait_positions(url, "work_%", 1, timeout=30.0)
                first_accepted = asyncio.run(_enqueue(url, count))
                accepted_s = time.perf_counter() - first_accepted
                wait_count(lambda: _sent(url), count, workers, timeout=timeout, what="SMS sent")
                elapsed = time.perf_counter() - first_accepted
    return Result(
        key="b",
        name="send",
        unit="sent/s",
        baseline=base,
        ours=count / elapsed,
        baseline_label="httpx.Client.post loop",
        details={
            "count": count,
            "baseline_calls": baseline_calls,
            "latency_ms": latency_ms,
            "sms_workers": sms_workers,
            "worker_concurrency": in_flight // sms_workers,
            "enqueue_s": accepted_s,
            "elapsed_s": elapsed,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    )
