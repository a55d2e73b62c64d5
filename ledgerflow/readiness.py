"""Have the read models caught up with their logs? What `ledgerflow up` waits for before
it says the platform is up, so a list read right after (the reference data set's
customers, the demo banks) is complete."""

from __future__ import annotations

import asyncio
import time

from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings


async def read_models_caught_up(
    settings: Settings, timeout_seconds: float, every_seconds: float = 0.1
) -> list[str]:
    """Wait until every read model has applied its log as far as it reached when this
    was called (another process applies them: `ledgerflow worker projections`); answer
    the names of those still behind when the time ran out (empty: all caught up)."""
    async with platform_session(settings) as platform:
        followers = platform.projections()
        heads = {follower.name: await follower.head() for follower in followers}
        behind = list(followers)
        deadline = time.monotonic() + timeout_seconds
        while behind:
            behind = [f for f in behind if await f.position() < heads[f.name]]
            if not behind or time.monotonic() >= deadline:
                break
            await asyncio.sleep(every_seconds)
    return [follower.name for follower in behind]
