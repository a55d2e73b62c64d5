"""The SQL of leasing and ending work, for the engine and for operators.

Workers lease due rows with `FOR UPDATE SKIP LOCKED` and a lease that expires, so several
processes share the work and a killed worker's rows come back. An attempt ends its row
only while it still holds the lease; the ends of many attempts share one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.batching import AsyncBatcher
from adapters.work.schema import LeasedWork
from domain.work import FailureStreak, WorkItem


@dataclass(frozen=True)
class _End:
    """How a leased attempt ended: finished (`due_at` None) or rescheduled."""

    id: UUID
    owner: str
    due_at: datetime | None
    error: str | None
    poll: bool = False  # a poll gives its attempt number back: polls are not attempts
    streak: FailureStreak | None = None


class WorkStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._ends: AsyncBatcher[_End, None] = AsyncBatcher(self._write_ends, name="work-ends")

    async def lease(
        self, kinds: Sequence[str], owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[LeasedWork]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """
                UPDATE ledgerflow_work w
                   SET lease_owner = %(owner)s, lease_expires_at = %(expires)s,
                       next_attempt = w.next_attempt + 1
                  FROM (SELECT available.id
                          FROM unnest(%(kinds)s::text[]) AS kinds(kind)
                         CROSS JOIN LATERAL (
                               SELECT id FROM ledgerflow_work
                                WHERE kind = kinds.kind
                                  AND greatest(due_at, lease_expires_at) <= %(now)s
                                ORDER BY greatest(due_at, lease_expires_at)
                                LIMIT %(limit)s
                                  FOR UPDATE SKIP LOCKED) available
                         LIMIT %(limit)s) due
                 WHERE w.id = due.id
             RETURNING w.id, w.kind, w.aggregate_id, w.payload, w.next_attempt - 1 AS attempt,
                       coalesce(w.first_due_at, w.due_at) AS first_due_at, w.deadline,
                       w.failures, w.first_error, w.first_failed_at, w.last_error,
                       w.last_failed_at
                """,
                {
                    "owner": owner,
                    "expires": now + lease,
                    "kinds": list(kinds),
                    "now": now,
                    "limit": limit,
                },
            )
            rows = await cur.fetchall()
        return [
            WorkItem(
                id=row["id"],
                kind=row["kind"],
                aggregate_id=row["aggregate_id"],
                attempt=row["attempt"],
                payload=row["payload"],
                first_due_at=row["first_due_at"],
                deadline=row["deadline"],
                streak=_streak(row),
            )
            for row in rows
        ]

    async def next_due_at(self, kinds: Sequence[str]) -> datetime | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT min(greatest(due_at, lease_expires_at))"
                " FROM ledgerflow_work WHERE kind = ANY(%s)",
                (list(kinds),),
            )
            row = await cur.fetchone()
        return row[0] if row else None

    async def hasten(self, kinds: Sequence[str], now: datetime) -> int:
        """Work of `kinds` waiting out a backoff after failures is due now: its third party
        answers again, so the backlog drains at once rather than as backoffs run out."""
        async with self.pool.connection() as conn:
            # Rows locked meanwhile (leased, ended) are skipped, never waited for: locking
            # them in this statement's order would deadlock with other workers' ends.
            cur = await conn.execute(
                "UPDATE ledgerflow_work w SET due_at = %(now)s"
                " FROM (SELECT id FROM ledgerflow_work"
                "        WHERE kind = ANY(%(kinds)s) AND failures > 0 AND due_at > %(now)s"
                "          AND lease_owner IS NULL"
                "          FOR UPDATE SKIP LOCKED) backed_off"
                " WHERE w.id = backed_off.id",
                {"kinds": list(kinds), "now": now},
            )
            return cur.rowcount

    async def finish(self, work: LeasedWork, owner: str) -> None:
        """The work is done (or parked, or dropped): the row goes."""
        await self._ends.submit(_End(work.id, owner, None, None))

    async def reschedule(
        self,
        work: LeasedWork,
        owner: str,
        due_at: datetime,
        error: str,
        streak: FailureStreak | None = None,
    ) -> None:
        """Another attempt is due at `due_at`; the lease is given up; the row keeps the
        failure streak so far."""
        await self._ends.submit(_End(work.id, owner, due_at, error, streak=streak))

    async def poll_later(self, work: LeasedWork, owner: str, poll_at: datetime) -> None:
        """Nothing new yet: look again at `poll_at`."""
        await self._ends.submit(_End(work.id, owner, poll_at, None, poll=True))

    async def close(self) -> None:
        await self._ends.close()

    async def _write_ends(self, ends: list[_End]) -> list[BaseException | None]:
        """Every attempt that ended meanwhile, in one transaction (only by its lease holder)."""
        finished = [end for end in ends if end.due_at is None]
        rescheduled = [
            {
                "due_at": end.due_at,
                "error": end.error,
                "poll": int(end.poll),
                "failed": end.streak is not None,  # a poll leaves the streak as it was
                "failures": end.streak.count if end.streak else 0,
                "first_error": end.streak.first_error if end.streak else None,
                "first_failed_at": end.streak.first_failed_at if end.streak else None,
                "last_failed_at": end.streak.last_failed_at if end.streak else None,
                "id": end.id,
                "owner": end.owner,
            }
            for end in ends
            if end.due_at is not None
        ]
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor()
            if finished:
                # One statement of arrays: a third of the client's and half of the server's
                # CPU per row of a statement per row (measured on batches of 100), the
                # arrays in binary (psycopg dumps those in C). A row locked meanwhile is
                # being cancelled by its scheduler (the aggregate's end was just recorded):
                # it goes anyway, and waiting for it would deadlock with that cancel.
                await cur.execute(
                    "DELETE FROM ledgerflow_work WHERE id IN ("
                    " SELECT w.id FROM ledgerflow_work w"
                    "   JOIN unnest(%b::uuid[], %b::text[]) AS ended(id, owner)"
                    "     ON w.id = ended.id AND w.lease_owner = ended.owner"
                    "    FOR UPDATE OF w SKIP LOCKED)",
                    ([end.id for end in finished], [end.owner for end in finished]),
                )
            if rescheduled:
                await cur.executemany(
                    "UPDATE ledgerflow_work SET due_at = %(due_at)s, lease_owner = NULL,"
                    " lease_expires_at = NULL, last_error = coalesce(%(error)s, last_error),"
                    " next_attempt = next_attempt - %(poll)s,"
                    " failures = CASE WHEN %(failed)s THEN %(failures)s ELSE failures END,"
                    " first_error = CASE WHEN %(failed)s THEN %(first_error)s"
                    "   ELSE first_error END,"
                    " first_failed_at = CASE WHEN %(failed)s THEN %(first_failed_at)s"
                    "   ELSE first_failed_at END,"
                    " last_failed_at = CASE WHEN %(failed)s THEN %(last_failed_at)s"
                    "   ELSE last_failed_at END"
                    " WHERE id = %(id)s AND lease_owner = %(owner)s",
                    rescheduled,
                )
        return [None] * len(ends)


def _streak(row: dict[str, Any]) -> FailureStreak | None:
    if not row["failures"]:
        return None
    return FailureStreak(
        count=row["failures"],
        first_error=row["first_error"] or "",
        first_failed_at=row["first_failed_at"],
        last_error=row["last_error"] or "",
        last_failed_at=row["last_failed_at"],
    )
