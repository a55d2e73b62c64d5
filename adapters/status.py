"""What an operator asks first: is every follower keeping up, and is work piling up?

Both answers come from the platform's own tables, so any process can give them:
- each follower's position (`ledgerflow_positions`) against the head of the log it
  follows (the event store names an application's log `<application>_events`);
- the work table's rows by kind: due now, being attempted, due later, and how many of
  them last failed;
- how many aggregates each follower has set aside (`adapters.set_aside`: the items
  themselves are the `SetAsideDesk`'s to read);
- of each kind of work, the due row that has waited longest, with its last error;
- the platform's processes, their heartbeats and restarts (`adapters.processes`).

`StatusReader` hands these (and whether the database answers at all) to the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.rows import class_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import AsyncConnectionPool

from adapters.processes import ProcessRecord, processes


@dataclass(frozen=True)
class FollowerLag:
    follower: str
    log: str  # the application whose event log it follows (`upstream` in its position)
    position: int
    head: int
    updated_at: datetime
    set_aside: int = 0  # aggregates it set aside, their events not applied

    @property
    def behind(self) -> int:
        """Events recorded that the follower has not applied yet."""
        return max(0, self.head - self.position)


@dataclass(frozen=True)
class WorkBacklog:
    kind: str
    due: int  # up for an attempt now
    in_flight: int  # leased by a worker whose lease has not expired
    scheduled: int  # due later: a retry after backoff, a poll, a dunning cycle
    failing: int  # of all of them, those whose last attempt failed
    oldest_due_at: datetime | None  # when the longest-waiting due row became due


@dataclass(frozen=True)
class DueWork:
    """The due row of a kind that has waited longest: what to look at first."""

    kind: str
    id: UUID
    aggregate_id: UUID
    attempt: int  # the number its next attempt gets
    due_since: datetime
    last_error: str | None


@dataclass(frozen=True)
class StatusReader:
    """The operators' questions, asked of one pool."""

    pool: AsyncConnectionPool[Any]
    heartbeat: timedelta = timedelta(seconds=5)  # the processes': stale after 3 missed

    async def ping(self) -> None:
        """Raises unless the database answers."""
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def follower_lags(self) -> list[FollowerLag]:
        return await follower_lags(self.pool)

    async def work_backlog(self, now: datetime) -> list[WorkBacklog]:
        return await work_backlog(self.pool, now)

    async def oldest_due_work(self, now: datetime, kinds: Sequence[str]) -> list[DueWork]:
        return await oldest_due_work(self.pool, now, kinds)

    async def work_of(self, aggregate_id: UUID) -> list[AggregateWork]:
        return await work_of(self.pool, aggregate_id)

    async def processes(self) -> list[ProcessRecord]:
        return await processes(self.pool)


async def follower_lags(pool: AsyncConnectionPool[Any]) -> list[FollowerLag]:
    """Every follower that has run against this database, by log then name."""
    async with pool.connection() as conn:
        if not await _exists(conn, "ledgerflow_positions"):
            return []
        cur = await conn.execute(
            "SELECT follower, upstream, position, updated_at FROM ledgerflow_positions"
            " ORDER BY upstream, follower"
        )
        positions = await cur.fetchall()
        set_aside: dict[tuple[str, str], int] = {}
        if await _exists(conn, "ledgerflow_set_aside"):
            cur = await conn.execute(
                "SELECT follower, upstream, count(*) FROM ledgerflow_set_aside"
                " WHERE resolved_at IS NULL GROUP BY follower, upstream"
            )
            set_aside = {(row[0], row[1]): int(row[2]) for row in await cur.fetchall()}
        heads: dict[str, int] = {}
        for upstream in sorted({row[1] for row in positions}):
            table = f"{upstream.lower()}_events"
            if await _exists(conn, table):
                cur = await conn.execute(
                    SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
                        Identifier(table)
                    )
                )
                row = await cur.fetchone()
                heads[upstream] = int(row[0]) if row else 0
    return [
        FollowerLag(
            follower,
            upstream,
            int(position),
            heads.get(upstream, 0),
            updated_at,
            set_aside.get((follower, upstream), 0),
        )
        for follower, upstream, position, updated_at in positions
    ]


async def work_backlog(pool: AsyncConnectionPool[Any], now: datetime) -> list[WorkBacklog]:
    """The work table by kind, as of `now` (the platform's clock)."""
    async with pool.connection() as conn:
        if not await _exists(conn, "ledgerflow_work"):
            return []
        cur = conn.cursor(row_factory=class_row(WorkBacklog))
        await cur.execute(
            """
            SELECT kind,
                   count(*) FILTER (WHERE available) AS due,
                   count(*) FILTER (WHERE lease_expires_at > %(now)s) AS in_flight,
                   count(*) FILTER (WHERE due_at > %(now)s AND lease_expires_at IS NULL)
                       AS scheduled,
                   count(*) FILTER (WHERE last_error IS NOT NULL) AS failing,
                   min(due_at) FILTER (WHERE available) AS oldest_due_at
              FROM (SELECT *, greatest(due_at, lease_expires_at) <= %(now)s AS available
                      FROM ledgerflow_work) work
             GROUP BY kind
             ORDER BY kind
            """,
            {"now": now},
        )
        return await cur.fetchall()


async def oldest_due_work(
    pool: AsyncConnectionPool[Any], now: datetime, kinds: Sequence[str]
) -> list[DueWork]:
    """Of each of `kinds`, the due row that has waited longest (the index's first)."""
    async with pool.connection() as conn:
        if not kinds or not await _exists(conn, "ledgerflow_work"):
            return []
        cur = conn.cursor(row_factory=class_row(DueWork))
        await cur.execute(
            """
            SELECT w.kind, w.id, w.aggregate_id, w.next_attempt AS attempt,
                   w.available_at AS due_since, w.last_error
              FROM unnest(%(kinds)s::text[]) AS kinds(kind)
             CROSS JOIN LATERAL (
                   SELECT *, greatest(due_at, lease_expires_at) AS available_at
                     FROM ledgerflow_work
                    WHERE kind = kinds.kind AND greatest(due_at, lease_expires_at) <= %(now)s
                    ORDER BY greatest(due_at, lease_expires_at)
                    LIMIT 1) w
             ORDER BY w.kind
            """,
            {"kinds": list(kinds), "now": now},
        )
        return await cur.fetchall()


async def _exists(conn: Any, table: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cur.fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class AggregateWork:
    """A call the work engine still holds for one aggregate (done work leaves the table;
    its outcome is an event)."""

    id: UUID
    kind: str
    attempt: int  # the number its next attempt gets
    due_at: datetime
    in_flight_until: datetime | None  # a worker's lease
    last_error: str | None
    created_at: datetime


async def work_of(pool: AsyncConnectionPool[Any], aggregate_id: UUID) -> list[AggregateWork]:
    async with pool.connection() as conn:
        if not await _exists(conn, "ledgerflow_work"):
            return []
        cur = conn.cursor(row_factory=class_row(AggregateWork))
        await cur.execute(
            "SELECT id, kind, next_attempt AS attempt, due_at,"
            " lease_expires_at AS in_flight_until, last_error, created_at"
            " FROM ledgerflow_work WHERE aggregate_id = %s ORDER BY created_at",
            (aggregate_id,),
        )
        return await cur.fetchall()
