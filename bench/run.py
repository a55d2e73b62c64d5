"""Run the benchmarks: `python -m bench.run [--quick] [--only a|b|c]` (or `make bench`).

(a) SMS accepted per second over HTTP vs a bare FastAPI app doing one INSERT per request;
(b) SMS sent per second end to end (simulator at 100 ms) vs one `httpx` call at a time;
(c) projection rebuild events per second vs the library's `ProjectionRunner`.

Each prints its baseline, its own figure and the ratio, measured in the same run, and
all are written to bench/results/latest.json with the machine's load averages, since
absolute figures drift on a shared machine (the ratios are what carry over).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ROOT, Result, server_url

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "a": {"duration": 8.0, "warmup": 1.0, "repeat": 2},
        "b": {"count": 3000, "baseline_calls": 30},
        "c": {"count": 20_000, "baseline_prefix": 2000, "baseline_seconds": 10.0},
    },
    "quick": {
        "a": {"duration": 2.0, "warmup": 0.5, "repeat": 1},
        "b": {"count": 200, "baseline_calls": 10},
        "c": {"count": 2000, "baseline_prefix": 1000, "baseline_seconds": 5.0},
    },
    # Only for the test suite: proves the benchmarks still run, measures nothing.
    "smoke": {
        "a": {"duration": 0.5, "warmup": 0.2, "repeat": 1},
        "b": {"count": 20, "baseline_calls": 2},
        "c": {"count": 100, "baseline_prefix": 50, "baseline_seconds": 2.0},
    },
}


def _runner(key: str) -> Callable[..., Result]:
    if key == "a":
        from bench.accept import run as accept

        return accept
    if key == "b":
        from bench.send import run as send

        return send
    from bench.rebuild import run as rebuild

    return rebuild


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="repeatable")
    parser.add_argument(
        "--sms-workers",
        type=int,
        default=2,
        help="(b) sms worker processes sharing the 100 calls in flight",
    )
    parser.add_argument("--repeat", type=int, default=None, help="(a) alternating rounds")
    parser.add_argument("--server-url", default=None, help="PostgreSQL server (DATABASE_URL)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    keys = sorted(set(args.only or ["a", "b", "c"]))
    server = args.server_url or server_url()
    load_start = os.getloadavg()
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg_start": load_start,
    }
    print(
        f"ledgerflow benchmarks ({mode}) on {machine['cpus']} cores,"
        f" load average {' '.join(f'{x:.2f}' for x in load_start)}",
        flush=True,
    )
    results: list[Result] = []
    started = time.perf_counter()
    for key in keys:
        params = dict(PRESETS[mode][key])
        if key == "a" and args.repeat is not None:
            params["repeat"] = args.repeat
        if key == "b":
            params["sms_workers"] = args.sms_workers
        result = _runner(key)(server, **params)
        results.append(result)
        print(result.line(), flush=True)
        print(f"    {_noise(result)}", flush=True)
    machine["loadavg_end"] = os.getloadavg()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "machine": machine,
        "seconds": round(time.perf_counter() - started, 1),
        "results": {result.key: result.as_dict() for result in results},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"written to {args.output}", flush=True)
    return 0


def _noise(result: Result) -> str:
    """What a reader needs to judge the figure: spread of repeats, sizes, load."""
    d = result.details
    load = f"load {d['loadavg_before'][0]:.2f} -> {d['loadavg_after'][0]:.2f}"
    if result.key == "a":
        base = ", ".join(f"{r['rps']:.0f}" for r in d["baseline_runs"])
        ours = ", ".join(f"{r['rps']:.0f}" for r in d["ours_runs"])
        return (
            f"{d['baseline_runs'][0].get('generator')} load generator,"
            f" {d['connections']} connections, {d['baseline_runs'][0]['duration']:.1f} s each;"
            f" runs: baseline [{base}]"
            f" ledgerflow [{ours}] (median); {load}"
        )
    if result.key == "b":
        return (
            f"{d['count']} SMS in {d['elapsed_s']:.2f} s ({d['sms_workers']} sms worker(s) x"
            f" {d['worker_concurrency']} in flight; accepted in {d['enqueue_s']:.2f} s);"
            f" baseline {d['baseline_calls']} calls; {load}"
        )
    return (
        f"{d['events']} events rebuilt in {d['ours_s']:.2f} s; baseline {d['baseline_events']}"
        f" events in {d['baseline_s']:.2f} s; {load}"
    )


if __name__ == "__main__":
    sys.exit(main())
