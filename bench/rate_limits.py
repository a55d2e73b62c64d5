"""The rate limiter's cost per request: `python -m bench.rate_limits [--redis-url URL]`.

Measured in one process on uvloop (as the API runs), one request after another (so each
figure is a request's own cost, wall clock and CPU), for
- the library's `FixedWindowRateLimiter.hit` on its async storages, one storage call per
  request: the baseline;
- ours (adapters/rate_limiter.py), in leases of 1, 10 and 50 units, on the same storages;
- ours refusing a client over its limit (local once the window is known spent).
Redis is `LEDGERFLOW_REDIS_URL` or 127.0.0.1:6379; the keys are new on every run.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import uvloop
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter

from adapters.rate_limiter import RateLimiter, parse_rate_limit, rate_limit_storage

# High enough that no measured request is refused (bar the refusal's own figure).
LIMIT = 10_000_000


async def per_hit(hit: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    """Microseconds per call: wall clock, CPU."""
    for _ in range(min(count, 200)):  # warm up (connections, first window)
        await hit()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await hit()
    return (
        (time.perf_counter() - wall) / count * 1e6,
        (time.process_time() - cpu) / count * 1e6,
    )


async def measure(redis_url: str | None, count: int) -> list[tuple[str, float, float]]:
    async with rate_limit_storage(redis_url) as storage:
        return await measure_on(storage, "redis" if redis_url else "memory", count)


async def measure_on(storage: Storage, where: str, count: int) -> list[tuple[str, float, float]]:
    item = parse_rate_limit(f"{LIMIT}/minute")
    rows: list[tuple[str, float, float]] = []
    run = uuid.uuid4().hex

    library = FixedWindowRateLimiter(storage)
    rows.append(
        (f"{where}: the library's hit", *await per_hit(lambda: library.hit(item, run), count))
    )
    for lease in (1, 10, 50):
        ours = RateLimiter(storage, {"orders": item}, lease_share=lease / LIMIT)
        client = f"{run}-{lease}"
        rows.append(
            (
                f"{where}: ours, leases of {lease}",
                *await per_hit(lambda o=ours, c=client: o.hit("orders", "subject", c), count),
            )
        )
    spent = RateLimiter(storage, {"orders": parse_rate_limit("1/minute")}, lease_share=0.01)
    rows.append(
        (
            f"{where}: ours, refusing",
            *await per_hit(lambda: spent.hit("orders", "subject", f"{run}-spent"), count),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LEDGERFLOW_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'':36} {'wall us':>8} {'cpu us':>8}")
    for redis_url in (None, args.redis_url):
        for name, wall, cpu in uvloop.run(measure(redis_url, args.count)):
            print(f"{name:36} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
