"""(a) SMS accepted per second over HTTP: `POST /sms` against a bare FastAPI + one INSERT.

Both servers run as separate uvicorn processes (uvloop, httptools, no access log), each
on a fresh database, one after the other, loaded by the same generator (bench/load.py in its
own process, 64 connections, same duration). With `repeat` > 1 they alternate (bare, ours, bare,
ours...) so drift on a noisy machine hits both; the figure is the median.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench import (
    LEDGERFLOW,
    ONE_CLIENT_LIMITS,
    Result,
    bare_app_command,
    children,
    client_caller,
    free_port,
    fresh_database,
    log_dir,
    wait_http,
)
from bench.load import measure


def _measure(
    kind: str, server: str, connections: int, duration: float, warmup: float
) -> dict[str, Any]:
    port = free_port()
    logs: Path = log_dir()
    with fresh_database(server, f"a_{kind}") as url, client_caller() as caller:
        token = None  # the bare baseline authenticates no one
        if kind == "bare":
            args, env = bare_app_command(port, url, "sms")
        else:
            args = [LEDGERFLOW, "api", "--port", str(port)]
            env = {"DATABASE_URL": url, **caller.env, **ONE_CLIENT_LIMITS}
            token = caller.token
        with children((args, env, logs / f"accept-{kind}.log")) as (child,):
            wait_http(f"http://127.0.0.1:{port}/health", child)
            load = measure(
                f"http://127.0.0.1:{port}/sms",
                connections=connections,
                duration=duration,
                warmup=warmup,
                token=token,
            )
            child.check_alive()
    return load


def run(
    server: str,
    *,
    duration: float = 8.0,
    warmup: float = 1.0,
    connections: int = 64,
    repeat: int = 1,
) -> Result:
    bare: list[dict] = []
    ours: list[dict] = []
    load_before = os.getloadavg()
    for _ in range(repeat):
        bare.append(_measure("bare", server, connections, duration, warmup))
        ours.append(_measure("ours", server, connections, duration, warmup))
    return Result(
        key="a",
        name="accept",
        unit="req/s",
        baseline=statistics.median(r["rps"] for r in bare),
        ours=statistics.median(r["rps"] for r in ours),
        baseline_label="bare FastAPI + 1 INSERT",
        details={
            "connections": connections,
            "duration_s": duration,
            "warmup_s": warmup,
            "baseline_runs": bare,
            "ours_runs": ours,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    )
