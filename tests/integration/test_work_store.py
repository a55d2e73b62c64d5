"""The work table's leases, on real PostgreSQL: an attempt ends its row only while it
still holds the lease."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from adapters.work import WorkStore

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_finished_attempt_ends_only_the_rows_it_still_holds(fresh_database_url: str) -> None:
    ids = [uuid.uuid4() for _ in range(3)]

    async def scenario() -> tuple[list[tuple[uuid.UUID, str]], uuid.UUID]:
        async with AsyncConnectionPool(fresh_database_url, open=False) as pool:
            store = WorkStore(pool)
            async with pool.connection() as conn:
                await conn.cursor().executemany(
                    "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt,"
                    " due_at) VALUES (%s, 'test.kind', %s, 1, %s)",
                    [(i, i, T0) for i in ids],
                )
            first = await store.lease(["test.kind"], "first", T0, timedelta(seconds=10), 10)
            assert len(first) == 3
            # The first owner's leases expire; a second owner takes one row over.
            later = T0 + timedelta(seconds=11)
            [taken] = await store.lease(["test.kind"], "second", later, timedelta(seconds=30), 1)
            await asyncio.gather(*(store.finish(item, "first") for item in first))
            await store.close()
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT id, lease_owner FROM ledgerflow_work")
                return await cur.fetchall(), taken.id

    rows, taken = asyncio.run(scenario())
    assert rows == [(taken, "second")]


def test_the_budget_of_a_row_runs_from_its_first_due_time(fresh_database_url: str) -> None:
    """Stored before `first_due_at` existed, a row's budget runs from its `due_at`."""
    planned, older = uuid.uuid4(), uuid.uuid4()
    first_due = T0 - timedelta(minutes=5)

    async def scenario() -> dict[uuid.UUID, datetime]:
        async with AsyncConnectionPool(fresh_database_url, open=False) as pool:
            store = WorkStore(pool)
            async with pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt, due_at,"
                    " first_due_at) VALUES (%s, 'test.kind', %s, 3, %s, %s)",
                    (planned, planned, T0, first_due),
                )
                await conn.execute(
                    "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt, due_at)"
                    " VALUES (%s, 'test.kind', %s, 1, %s)",
                    (older, older, T0),
                )
            leased = await store.lease(["test.kind"], "owner", T0, timedelta(seconds=10), 10)
            await store.close()
            return {work.id: work.first_due_at for work in leased}

    assert asyncio.run(scenario()) == {planned: first_due, older: T0}
