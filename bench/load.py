"""An HTTP load generator, run as a separate process: `wrk -c64` when found, or its like.

`python -m bench.load URL --connections 64 --duration 8 --warmup 1 [--body sms|orders]`
keeps 64 keep-alive connections busy (closed loop: each sends its next request when the
previous answer arrived) and prints one JSON line: 2xx responses and others counted in
the measured window (after the warm-up), requests per second, the p99 latency
(`p99_ms`) and the generator used. Benchmarks call `measure()`, which runs it as its own
process so that it never shares the harness's interpreter.

Each request is `POST URL` with a JSON body: `sms` (default) an SMS whose `message_id`
is unique (run id, connection or thread, sequence number); `orders` the fixed limit
order `ORDER_BODY`. With `BENCH_TOKEN` in the environment, every request carries
`Authorization: Bearer $BENCH_TOKEN`, as a client of the platform sends it.

- `wrk` (Debian package `wrk`), when on PATH: `wrk -t2 -cN` with a Lua script making the
  bodies; the warm-up is a separate, uncounted `wrk` run. It is written in C, so it takes
  the least CPU away from the server on a small machine.
- Otherwise a minimal HTTP/1.1 client on asyncio streams with uvloop: cheaper per
  request than aiohttp or httpx, but still Python, so it uses more of the machine
  than `wrk` does (figures from the two generators are not comparable; ratios are).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from bench import PYTHON, ROOT

Body = Literal["sms", "orders"]
TOKEN_VARIABLE = "BENCH_TOKEN"

PHONE = "+254712345678"
ORDER_BODY = (
    '{"type":"limit","side":"buy","instrument":"US0378331005","limit_price":"10.00","quantity":100}'
)

WRK_REQUESTS: dict[Body, str] = {
    "sms": """
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1] .. "-" .. id .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  local body = '{"message_id":"' .. prefix .. counter ..
    '","phone_number":"@PHONE@","text":"hi"}'
  return wrk.format("POST", nil, wrk.headers, body)
end
""".replace("@PHONE@", PHONE),
    # A fixed body: wrk sends the same prepared request, no Lua per request.
    "orders": """
wrk.method = "POST"
wrk.body = '@BODY@'
""".replace("@BODY@", ORDER_BODY),
}
WRK_HEADERS = """
wrk.headers["Content-Type"] = "application/json"
"""
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"non2xx":%d,"socket_errors":%d,"duration_us":%d,"p99_ms":%.2f}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(99) / 1000))
end
"""


def measure(
    url: str,
    *,
    connections: int,
    duration: float,
    warmup: float,
    body: Body = "sms",
    token: str | None = None,
) -> dict[str, Any]:
    """Run `python -m bench.load` as a separate process and return its JSON result; with
    `token`, every request carries it."""
    env = {**os.environ, TOKEN_VARIABLE: token} if token else None
    output = subprocess.run(
        [
            PYTHON,
            "-m",
            "bench.load",
            url,
            "--connections",
            str(connections),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--body",
            body,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=duration + warmup + 60,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


@dataclass
class Counts:
    ok: int = 0
    other: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    """Seconds from writing a request to reading its whole response, in the window."""


def _requests(head: str, body: Body, prefix: str) -> Iterator[bytes]:
    """The connection's successive requests (headers and body), ready to write."""
    if body == "orders":
        payload = ORDER_BODY.encode()
        yield from itertools.repeat(
            f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
    else:
        for sequence in itertools.count(1):
            payload = json.dumps(
                {"message_id": f"{prefix}-{sequence}", "phone_number": PHONE, "text": "hi"}
            ).encode()
            yield f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload


async def _connection(
    host: str,
    port: int,
    requests: Iterator[bytes],
    start_at: float,
    end_at: float,
    counts: Counts,
) -> None:
    while time.monotonic() < end_at:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counts.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while True:
                sent = time.monotonic()
                if sent >= end_at:
                    return
                writer.write(next(requests))
                headers = await reader.readuntil(b"\r\n\r\n")
                status = int(headers[9:12])
                length = 0
                for line in headers.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                done = time.monotonic()
                if start_at <= done < end_at:
                    counts.latencies.append(done - sent)
                    if 200 <= status < 300:
                        counts.ok += 1
                    else:
                        counts.other += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts.errors += 1
        finally:
            writer.close()


def _p99_ms(latencies: list[float]) -> float:
    """Nearest-rank 99th percentile in milliseconds (0 without samples, as wrk reports)."""
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[math.ceil(0.99 * len(ordered)) - 1] * 1000


async def generate(
    url: str, connections: int, duration: float, warmup: float, body: Body, token: str | None
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    run = uuid.uuid4().hex[:8]
    counts = Counts()
    start_at = time.monotonic() + warmup
    end_at = start_at + duration
    await asyncio.gather(
        *(
            _connection(host, port, _requests(head, body, f"{run}-{i}"), start_at, end_at, counts)
            for i in range(connections)
        )
    )
    return {
        "ok": counts.ok,
        "other": counts.other,
        "errors": counts.errors,
        "duration": duration,
        "connections": connections,
        "rps": counts.ok / duration,
        "p99_ms": round(_p99_ms(counts.latencies), 2),
        "generator": "python",
    }


def _wrk_once(wrk: str, url: str, connections: int, seconds: int, script: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    output = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, url, "--", run],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    return result


def generate_wrk(
    wrk: str,
    url: str,
    connections: int,
    duration: float,
    warmup: float,
    body: Body,
    token: str | None,
) -> dict[str, Any]:
    """`wrk` whole seconds only: the duration is rounded up, and reported as measured."""
    headers = WRK_HEADERS
    if token:
        headers += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(headers + WRK_REQUESTS[body] + WRK_DONE)
        script = handle.name
    try:
        if warmup > 0:
            _wrk_once(wrk, url, connections, max(1, math.ceil(warmup)), script)
        summary = _wrk_once(wrk, url, connections, max(1, math.ceil(duration)), script)
    finally:
        Path(script).unlink(missing_ok=True)
    seconds = summary["duration_us"] / 1e6
    ok = summary["requests"] - summary["non2xx"]
    return {
        "ok": ok,
        "other": summary["non2xx"],
        "errors": summary["socket_errors"],
        "duration": seconds,
        "connections": connections,
        "rps": ok / seconds,
        "p99_ms": summary["p99_ms"],
        "generator": "wrk",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the list readable
    )
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--body", choices=get_args(Body), default="sms")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE) or None
    wrk = shutil.which("wrk") if args.generator in ("auto", "wrk") else None
    if args.generator == "wrk" and not wrk:
        parser.error("wrk is not on PATH (Debian package wrk)")
    if wrk:
        result = generate_wrk(
            wrk, args.url, args.connections, args.duration, args.warmup, args.body, token
        )
        print(json.dumps(result), flush=True)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    result = asyncio.run(
        generate(args.url, args.connections, args.duration, args.warmup, args.body, token)
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
