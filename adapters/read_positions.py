"""Has a read model applied a position of its log yet? Waits, boundedly, until it has.

A follower commits its position (`ledgerflow_positions`) in the same transaction as what
it applied, so a position reached means every event up to it is in the read model.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from psycopg_pool import AsyncConnectionPool


class ReadPositions:
    def __init__(
        self, pool: AsyncConnectionPool[Any], timeout_seconds: float = 2.0, every: float = 0.02
    ) -> None:
        self.pool = pool
        self.timeout_seconds = timeout_seconds
        self.every = every

    async def position(self, follower: str, log: str) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT position FROM ledgerflow_positions WHERE follower = %s AND upstream = %s",
                (follower, log),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def reached(self, follower: str, log: str, position: int) -> bool:
        """Whether `follower` has applied `log` up to `position`, waiting up to the timeout."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout_seconds):
                # Polled: the follower may run in another process (no event to wait on).
                while True:
                    if await self.position(follower, log) >= position:
                        return True
                    await asyncio.sleep(self.every)
        return False
