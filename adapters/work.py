"""The work engine: due outbound calls in PostgreSQL, leased and made concurrently.

- A workflow's process manager follows its events (`WorkScheduler`, a follower) and
  inserts due work in the same transaction as its position: nothing is planned twice
  or forgotten. It NOTIFYs `ledgerflow_work`, so idle workers wake within milliseconds.
- Workers (`WorkEngine`) lease due rows with `FOR UPDATE SKIP LOCKED` and a lease that
  expires, so several processes share the work and a killed worker's rows come back.
- Each attempt runs as its own asyncio task (many in flight per process). Its outcome
  is recorded as an event on the aggregate (group-committed), then the row is finished:
  deleted when complete or parked, rescheduled with backoff otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import GroupCommitter
from adapters.follower import Event
from adapters.postgres import create_schema
from domain.clock import Clock
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    OutcomeNotApplicable,
    Parked,
    RetryPolicy,
    RetryScheduled,
    WorkItem,
    WorkPolicy,
    WorkRequest,
)

log = logging.getLogger(__name__)

WORK_CHANNEL = "ledgerflow_work"

WORK_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledgerflow_work (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    next_attempt integer NOT NULL,
    last_attempt integer NOT NULL,
    due_at timestamptz NOT NULL,
    lease_owner text,
    lease_expires_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledgerflow_work_due ON ledgerflow_work (kind, due_at);
CREATE INDEX IF NOT EXISTS ledgerflow_work_aggregate ON ledgerflow_work (aggregate_id);
"""


class WorkScheduler:
    """A follower's processor: turns a workflow's events into rows of due work."""

    def __init__(self, policy: WorkPolicy, *, max_attempts: int) -> None:
        self.policy = policy
        self.name = f"work_scheduler:{policy.kind}"
        self.max_attempts = max_attempts

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(WORK_SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        raise RuntimeError("due work is not a read model: it is never rebuilt")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        scheduled = False
        for event in events:
            for step in self.policy.plan(event):
                if isinstance(step, WorkRequest):
                    await cur.execute(
                        "INSERT INTO ledgerflow_work (id, kind, aggregate_id, payload,"
                        " next_attempt, last_attempt, due_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (id) DO NOTHING",
                        (
                            step.id,
                            step.kind,
                            step.aggregate_id,
                            json.dumps(step.payload),
                            step.first_attempt,
                            step.first_attempt - 1 + (step.max_attempts or self.max_attempts),
                            step.due_at,
                        ),
                    )
                    scheduled = True
                elif isinstance(step, CancelWork):
                    await cur.execute(
                        "DELETE FROM ledgerflow_work WHERE aggregate_id = %s AND kind = %s",
                        (step.aggregate_id, step.kind),
                    )
        if scheduled:
            await cur.execute(f"NOTIFY {WORK_CHANNEL}")


class WorkStore:
    """The SQL of the work table, for the engine and for operators."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await create_schema(conn, WORK_SCHEMA)

    async def lease(
        self, kinds: Sequence[str], owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[WorkItem]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """
                UPDATE ledgerflow_work w
                   SET lease_owner = %(owner)s, lease_expires_at = %(expires)s,
                       next_attempt = w.next_attempt + 1
                  FROM (SELECT id FROM ledgerflow_work
                         WHERE kind = ANY(%(kinds)s) AND due_at <= %(now)s
                           AND (lease_expires_at IS NULL OR lease_expires_at <= %(now)s)
                         ORDER BY due_at LIMIT %(limit)s
                         FOR UPDATE SKIP LOCKED) due
                 WHERE w.id = due.id
             RETURNING w.id, w.kind, w.aggregate_id, w.payload, w.next_attempt - 1 AS attempt,
                       w.last_attempt
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
                last_attempt=row["last_attempt"],
                payload=row["payload"],
            )
            for row in rows
        ]

    async def next_due_at(self, kinds: Sequence[str]) -> datetime | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT min(greatest(due_at, coalesce(lease_expires_at, due_at)))"
                " FROM ledgerflow_work WHERE kind = ANY(%s)",
                (list(kinds),),
            )
            row = await cur.fetchone()
        return row[0] if row else None

    async def finish(self, item: WorkItem, owner: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM ledgerflow_work WHERE id = %s AND lease_owner = %s", (item.id, owner)
            )

    async def reschedule(self, item: WorkItem, owner: str, due_at: datetime, error: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE ledgerflow_work SET due_at = %s, lease_owner = NULL,"
                " lease_expires_at = NULL, last_error = %s WHERE id = %s AND lease_owner = %s",
                (due_at, error, item.id, owner),
            )

    async def release(self, item: WorkItem, owner: str) -> None:
        """Give a leased row back untouched (the attempt could not be recorded)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE ledgerflow_work SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = %s AND lease_owner = %s",
                (item.id, owner),
            )

    async def in_flight(self, owner_prefix: str, now: datetime) -> int:
        """Rows currently leased by owners starting with `owner_prefix` (for operators)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM ledgerflow_work WHERE lease_owner LIKE %s"
                " AND lease_expires_at > %s",
                (owner_prefix + "%", now),
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkEngine:
    def __init__(
        self,
        store: WorkStore,
        policies: Sequence[WorkPolicy],
        committer: GroupCommitter,
        clock: Clock,
        *,
        conninfo: str,
        concurrency: int = 100,
        lease_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        idle_poll_seconds: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.policies = {policy.kind: policy for policy in policies}
        self.committer = committer
        self.clock = clock
        self.conninfo = conninfo
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        self.retry = retry or RetryPolicy()
        self.idle_poll_seconds = idle_poll_seconds
        self.rng = rng or random.Random()
        self.owner = worker_identity()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        await self.store.setup()
        listener = asyncio.create_task(self._listen(stop), name="work-listen")
        try:
            while not stop.is_set():
                leased = await self._fill()
                if leased:
                    continue
                await self._wait_for_work(stop)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            if self._tasks:  # let calls in flight finish and be recorded
                await asyncio.wait(self._tasks, timeout=self.lease.total_seconds())

    async def _fill(self) -> int:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        items = await self.store.lease(
            list(self.policies), self.owner, self.clock.now(), self.lease, free
        )
        for item in items:
            task = asyncio.create_task(self._perform(item), name=f"work-{item.id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(items)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        timeout = self.idle_poll_seconds
        if len(self._tasks) < self.concurrency:
            next_due = await self.store.next_due_at(list(self.policies))
            if next_due is not None:
                until = (next_due - self.clock.now()).total_seconds()
                timeout = max(0.0, min(timeout, until))
        if timeout <= 0:
            return
        self._wake.clear()
        stopper = asyncio.create_task(stop.wait())
        waker = asyncio.create_task(self._wake.wait())
        await asyncio.wait({stopper, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        waker.cancel()

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {WORK_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.OperationalError, OSError) as error:
                log.warning("work listener reconnecting", extra={"error": str(error)})
                await asyncio.sleep(1.0)

    async def _perform(self, item: WorkItem) -> None:
        policy = self.policies[item.kind]
        try:
            outcome = await policy.attempt(item)
            decision = self.retry.decide(item, outcome, self.clock.now(), self.rng)
            await self._record(policy, item, decision)
        except Exception:
            # Nothing is lost: the lease expires and another attempt is made.
            log.exception(
                "work attempt crashed", extra={"work_id": str(item.id), "kind": item.kind}
            )

    async def _record(self, policy: WorkPolicy, item: WorkItem, decision: Decision) -> None:
        now = self.clock.now()
        try:
            aggregates = await asyncio.to_thread(policy.record, item, decision, now)
        except OutcomeNotApplicable as error:  # the aggregate moved on (e.g. already final)
            log.info("outcome not recorded", extra={"work_id": str(item.id), "reason": str(error)})
            await self.store.finish(item, self.owner)
            return
        if aggregates:
            await self.committer.save(*aggregates)
        if isinstance(decision, RetryScheduled):
            await self.store.reschedule(item, self.owner, decision.retry_at, decision.error)
        elif isinstance(decision, Completed | Parked):
            await self.store.finish(item, self.owner)
