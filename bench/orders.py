"""Orders benchmark: `python -m bench.orders [--quick | --smoke]`.

1. `POST /orders` at 64 concurrent connections, each request with a client's bearer
   token, against the whole platform running (API, orders worker, projections,
   ingester, relay, exchange simulator at its contract's 0.5 s and 10% refusals), versus
   the baseline measured alone on the same PostgreSQL: a bare FastAPI app doing one
   psycopg INSERT per request, authenticating no one (bench/bare_app.py). The load
   comes from bench/load.py: wrk when installed, else its Python generator.
   Printed: requests/s and p99 of both, the ratios (targets: at least 1.2x the
   baseline's requests/s, a p99 at most 1.2x its p99) and the generator used (figures
   from the two generators are not comparable; the ratios are).
2. Execution reports ingested per second: with the ingester stopped, the exchange fills
   every placed order (`fills_per_order` reports each); the ingester is then started and
   timed until its stored position reaches the exchange's last report.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import psycopg

from bench import (
    LEDGERFLOW,
    ONE_CLIENT_LIMITS,
    Result,
    bare_app_command,
    bench_parser,
    children,
    client_caller,
    free_port,
    fresh_database,
    log_dir,
    server_of,
    size_of,
    wait_http,
)
from bench.load import measure

CONNECTIONS = 64
PRESETS: dict[str, dict[str, Any]] = {
    "full": {"duration": 10, "warmup": 2, "fills": 10},
    "quick": {"duration": 3, "warmup": 1, "fills": 10},
    "smoke": {"duration": 1, "warmup": 0, "fills": 2},
}


def _load(url: str, duration: int, warmup: int, token: str | None = None) -> dict[str, Any]:
    return measure(
        url,
        connections=CONNECTIONS,
        duration=duration,
        warmup=warmup,
        body="orders",
        token=token,
    )


def baseline(server: str, duration: int, warmup: int) -> dict[str, Any]:
    port = free_port()
    with fresh_database(server, "orders_bare") as url:
        args, env = bare_app_command(port, url, "orders")
        with children((args, env, log_dir() / "orders-bare.log")) as (child,):
            wait_http(f"http://127.0.0.1:{port}/health", child)
            return _load(f"http://127.0.0.1:{port}/orders", duration, warmup)


def _stream_position(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(max(position), 0) FROM ledgerflow_stream_positions"
        ).fetchone()
    return int(row[0]) if row else 0


def platform(server: str, duration: int, warmup: int, fills: int) -> dict[str, Any]:
    api_port, exchange_port = free_port(), free_port()
    logs = log_dir()
    exchange_url = f"http://127.0.0.1:{exchange_port}"
    with fresh_database(server, "orders") as url, client_caller() as caller:
        env = {
            **caller.env,
            "DATABASE_URL": url,
            "LEDGERFLOW_EXCHANGE_URL": exchange_url,
            "LEDGERFLOW_EXCHANGE_FILLS_PER_ORDER": str(fills),
            **ONE_CLIENT_LIMITS,
        }
        simulator = ([LEDGERFLOW, "simulator", "exchange", "--port", str(exchange_port)], env)
        specs = [
            (simulator[0], simulator[1], logs / "orders-exchange.log"),
            ([LEDGERFLOW, "api", "--port", str(api_port)], env, logs / "orders-api.log"),
        ]
        specs += [
            ([LEDGERFLOW, "worker", name], env, logs / f"orders-worker-{name}.log")
            for name in ("orders", "projections", "relay")
        ]
        with children(*specs) as started:
            wait_http(f"{exchange_url}/__admin/faults", started[0])
            wait_http(f"http://127.0.0.1:{api_port}/health", started[1])
            with children(([LEDGERFLOW, "worker", "ingester"], env, logs / "orders-ingester.log")):
                load = _load(f"http://127.0.0.1:{api_port}/orders", duration, warmup, caller.token)
            for child in started:
                child.check_alive()
            # Ingestion: the exchange fills the rest with the ingester stopped, then the
            # ingester drains the backlog.
            httpx.put(f"{exchange_url}/__admin/settings", json={"latency_ms": 0})
            count = _wait_stable(f"{exchange_url}/v1/executions/count")
            start_position = _stream_position(url)
            started_at = time.monotonic()
            with children(([LEDGERFLOW, "worker", "ingester"], env, logs / "orders-ingester2.log")):
                while _stream_position(url) < count:
                    time.sleep(0.05)
            seconds = time.monotonic() - started_at
    load["reports"] = count - start_position
    load["ingest_seconds"] = seconds
    load["reports_per_s"] = (count - start_position) / seconds if seconds else 0.0
    return load


def _wait_stable(url: str, quiet_seconds: float = 2.0, timeout: float = 600) -> int:
    """The exchange's report count once it stops growing (every order placed)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = int(httpx.get(url).json()["count"])
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return count
        time.sleep(0.2)
    return last


def run(server: str, *, duration: int, warmup: int, fills: int) -> list[Result]:
    bare = baseline(server, duration, warmup)
    ours = platform(server, duration, warmup, fills)
    # Both runs normally share a generator; named per run since figures depend on it.
    generator = " / ".join(dict.fromkeys((bare["generator"], ours["generator"])))
    details = {
        "baseline": bare,
        "ours": ours,
        "generator": generator,
        "loadavg": os.getloadavg(),
    }
    return [
        Result(
            "orders",
            "accept",
            "req/s",
            bare["rps"],
            ours["rps"],
            "bare FastAPI + 1 INSERT",
            details,
        ),
        Result(
            "orders",
            "p99",
            "ms",
            bare["p99_ms"],
            ours["p99_ms"],
            "bare FastAPI + 1 INSERT",
            details,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("python -m bench.orders", __doc__, quick_help="3 s of load")
    args = parser.parse_args(argv)
    results = run(server_of(args), **PRESETS[size_of(args)])
    for result in results:
        print(result.line())
    details = results[0].details
    ours = details["ours"]
    print(f"(orders) load     {details['generator']} generator, {CONNECTIONS} connections")
    print(
        f"(orders) ingest   {ours['reports']} execution reports in {ours['ingest_seconds']:.2f} s"
        f"   {ours['reports_per_s']:.0f} reports/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
