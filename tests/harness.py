"""Running parts of the platform inside a test: workers on a background event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ledgerflow.settings import Settings
from ledgerflow.workers import workers as known_workers


@contextmanager
def workers(settings: Settings, *names: str) -> Iterator[None]:
    """Run the named workers (as `ledgerflow worker NAME` would) until the block ends."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        named = known_workers()
        await asyncio.gather(*(named[name](settings, stop) for name in names))

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, name=f"workers-{'-'.join(names)}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        if thread.is_alive():
            raise AssertionError(f"workers {names} did not stop within 30 s of being asked")
        loop.close()
    if failure:
        raise failure[0]


def eventually(
    check: Callable[[], Any],
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Poll `check` until it returns something truthy (its result) or time runs out."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s; last value: {last!r}")


def sms_status(client: httpx.Client, sms_id: str) -> str:
    return str(client.get(f"/sms/{sms_id}").json()["status"])
