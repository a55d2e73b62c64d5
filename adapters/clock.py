"""A clock every process of the platform shares, movable in test mode.

The offset lives in PostgreSQL (`ledgerflow_clock`), so one `PUT /__admin/clock` moves
time for the API and every worker at once; each process refreshes it in the background
(`now()` itself never does I/O).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)


class SharedOffsetClock:
    def __init__(self, pool: AsyncConnectionPool[Any], refresh_seconds: float = 0.2) -> None:
        self.pool = pool
        self.refresh_seconds = refresh_seconds
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def refresh(self) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT offset_seconds FROM ledgerflow_clock")
            row = await cur.fetchone()
        self._offset = timedelta(seconds=row[0] if row else 0.0)

    async def set_offset(self, offset: timedelta) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO ledgerflow_clock (id, offset_seconds) VALUES (true, %s)"
                " ON CONFLICT (id) DO UPDATE SET offset_seconds = excluded.offset_seconds",
                (offset.total_seconds(),),
            )
        self._offset = offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    async def refresh_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as error:
                log.warning("clock refresh failed", extra={"error": str(error)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.refresh_seconds)
