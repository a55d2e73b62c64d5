"""The connection pool a messaging adapter owns, opened on first use, so building an
adapter never does I/O."""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from adapters.postgres import PoolCheck


class PoolOwner:
    def __init__(self, database_url: str, *, max_connections: int) -> None:
        self._url = database_url
        self._pool = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=max_connections,
            max_idle=30,  # many processes share one server: give burst connections back
            open=False,
            kwargs={"autocommit": True},
            # A connection the server closed (a restart) is replaced before it is used.
            check=PoolCheck(),
        )
        self._opened = False
        self._open_lock = asyncio.Lock()

    async def _ready(self) -> AsyncConnectionPool:
        if not self._opened:
            async with self._open_lock:
                if not self._opened:
                    await self._pool.open(wait=True)
                    self._opened = True
        return self._pool

    async def close(self) -> None:
        await self._pool.close()
