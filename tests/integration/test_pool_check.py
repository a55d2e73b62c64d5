"""The async pools' check, on real PostgreSQL: a connection the server closed is replaced
before it is handed out, even one drawn a moment before; a live one drawn again soon is
handed out without a round trip."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.postgres import PoolCheck


def test_a_terminated_connection_is_replaced_and_a_live_one_is_not_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinged: list[int] = []
    round_trip = AsyncConnectionPool.check_connection

    async def counted(conn: psycopg.AsyncConnection[object]) -> None:
        pinged.append(conn.info.backend_pid)
        await round_trip(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counted))

    async def scenario() -> tuple[int, list[int], int]:
        async with AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True},
            check=PoolCheck(recent_seconds=60.0),
            open=False,
        ) as pool:
            async with pool.connection() as conn:  # first drawn: checked
                first = conn.info.backend_pid
            async with pool.connection() as conn:  # drawn a moment ago, live: not
                assert conn.info.backend_pid == first
            before = list(pinged)
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True
            ) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            await asyncio.sleep(0.2)
            async with pool.connection() as conn:  # closed by the server: replaced
                await conn.execute("SELECT 1")
                return first, before, conn.info.backend_pid

    first, before, replaced = asyncio.run(scenario())
    assert before == [first]
    assert replaced != first
