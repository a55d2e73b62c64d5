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
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.batching import AsyncBatcher
from adapters.eventstore import GroupCommitter
from adapters.follower import Event
from adapters.postgres import create_schema
from domain.clock import Clock
from domain.work import (
    CancelWork,
    Decision,
    OutcomeNotApplicable,
    Parked,
    ParkedHook,
    PlansFromEvents,
    PollScheduled,
    RetryPolicy,
    RetryScheduled,
    WorkItem,
    WorkPolicy,
    WorkRequest,
)
from projections.rows import insert_rows

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
    deadline timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ledgerflow_work ADD COLUMN IF NOT EXISTS deadline timestamptz;
-- A row is up for lease from `due_at`, or from its lease's expiry while leased: leased
-- rows sort to the back, so a lease reads only rows it can take.
CREATE INDEX IF NOT EXISTS ledgerflow_work_available
    ON ledgerflow_work (kind, (greatest(due_at, lease_expires_at)));
-- Cancelling names both columns; with an index on the first alone the planner of a
-- generic plan may pick the `kind` index and scan every row of that kind.
CREATE INDEX IF NOT EXISTS ledgerflow_work_aggregate_kind
    ON ledgerflow_work (aggregate_id, kind);
DROP INDEX IF EXISTS ledgerflow_work_due;
DROP INDEX IF EXISTS ledgerflow_work_aggregate;
"""


WORK_COLUMNS = (
    "id",
    "kind",
    "aggregate_id",
    "payload",
    "next_attempt",
    "last_attempt",
    "due_at",
    "deadline",
)


class WorkScheduler:
    """A follower's processor: turns a workflow's events into rows of due work."""

    def __init__(self, policy: WorkPolicy, *, max_attempts: int) -> None:
        self.policy = policy
        self.name = f"work_scheduler:{policy.kind}"
        self.max_attempts = max_attempts
        self.topics: tuple[str, ...] = (
            tuple(get_topic(cls) for cls in policy.plans_from)
            if isinstance(policy, PlansFromEvents)
            else ()
        )

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(WORK_SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        raise RuntimeError("due work is not a read model: it is never rebuilt")

    def weight(self, event: Event) -> int:
        """The rows an event plans (`WeighsEvents`): a run's selection of a thousand
        invoices is committed on its own, so charging starts while the rest is planned."""
        return max(1, len(self.policy.plan(event)))

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        # Steps take effect in event order. A cancel drops the requests planned earlier
        # in this batch (an SMS requested and finished within one batch leaves no row)
        # and deletes the stored ones; a request planned after it (an operator's retry
        # right after the SMS was parked) survives, since deletes run before inserts.
        requests: dict[tuple[UUID, str], dict[UUID, dict[str, Any]]] = {}
        cancels: set[tuple[UUID, str]] = set()
        for event in events:
            for step in self.policy.plan(event):
                key = (step.aggregate_id, step.kind)
                if isinstance(step, WorkRequest):
                    last = step.first_attempt - 1 + (step.max_attempts or self.max_attempts)
                    requests.setdefault(key, {}).setdefault(
                        step.id,
                        {
                            "id": step.id,
                            "kind": step.kind,
                            "aggregate_id": step.aggregate_id,
                            "payload": step.payload,
                            "next_attempt": step.first_attempt,
                            "last_attempt": last,
                            "due_at": step.due_at,
                            "deadline": step.deadline,
                        },
                    )
                elif isinstance(step, CancelWork):
                    requests.pop(key, None)
                    cancels.add(key)
        if cancels:
            await cur.executemany(
                "DELETE FROM ledgerflow_work WHERE aggregate_id = %s AND kind = %s",
                sorted(cancels, key=str),
            )
        rows = [row for planned in requests.values() for row in planned.values()]
        if rows:
            await insert_rows(cur, "ledgerflow_work", WORK_COLUMNS, rows)  # as JSON arrays
            await cur.execute(f"NOTIFY {WORK_CHANNEL}")


@dataclass(frozen=True)
class _End:
    """How a leased attempt ended: finished (`due_at` None) or rescheduled."""

    id: UUID
    owner: str
    due_at: datetime | None
    error: str | None
    poll: bool = False  # a poll gives its attempt number back: polls are not attempts


class WorkStore:
    """The SQL of the work table, for the engine and for operators."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self._ends: AsyncBatcher[_End, None] = AsyncBatcher(self._write_ends, name="work-ends")

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
                       w.last_attempt, w.deadline
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
                deadline=row["deadline"],
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

    async def finish(self, item: WorkItem, owner: str) -> None:
        """The work is done (or parked): the row goes."""
        await self._ends.submit(_End(item.id, owner, None, None))

    async def reschedule(self, item: WorkItem, owner: str, due_at: datetime, error: str) -> None:
        """Another attempt is due at `due_at`; the lease is given up."""
        await self._ends.submit(_End(item.id, owner, due_at, error))

    async def poll_later(self, item: WorkItem, owner: str, poll_at: datetime) -> None:
        """Nothing new yet: look again at `poll_at`."""
        await self._ends.submit(_End(item.id, owner, poll_at, None, poll=True))

    async def close(self) -> None:
        await self._ends.close()

    async def _write_ends(self, ends: list[_End]) -> list[BaseException | None]:
        """Every attempt that ended meanwhile, in one transaction (only by its lease holder)."""
        finished = [end for end in ends if end.due_at is None]
        rescheduled = [
            (end.due_at, end.error, int(end.poll), end.id, end.owner)
            for end in ends
            if end.due_at is not None
        ]
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor()
            if finished:
                # One statement of arrays: a third of the client's and half of the server's
                # CPU per row of a statement per row (measured on batches of 100), the
                # arrays in binary (psycopg dumps those in C).
                await cur.execute(
                    "DELETE FROM ledgerflow_work w"
                    " USING unnest(%b::uuid[], %b::text[]) AS ended(id, owner)"
                    " WHERE w.id = ended.id AND w.lease_owner = ended.owner",
                    ([end.id for end in finished], [end.owner for end in finished]),
                )
            if rescheduled:
                await cur.executemany(
                    "UPDATE ledgerflow_work SET due_at = %s, lease_owner = NULL,"
                    " lease_expires_at = NULL, last_error = coalesce(%s, last_error),"
                    " next_attempt = next_attempt - %s"
                    " WHERE id = %s AND lease_owner = %s",
                    rescheduled,
                )
        return [None] * len(ends)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkEngine:
    def __init__(
        self,
        store: WorkStore,
        policies: Sequence[WorkPolicy],
        committer: GroupCommitter | None,
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
        self._outcomes: AsyncBatcher[_Outcome, None] = AsyncBatcher(
            self._record_batch, max_batch=200, name="work-outcomes"
        )

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
            await self._outcomes.close()
            await self.store.close()

    def _can_take_work(self) -> bool:
        """Lease when idle or when a tenth of the slots are free: at saturation one lease
        query per completion would cost more than the calls."""
        free = self.concurrency - len(self._tasks)
        return free > 0 and (not self._tasks or free >= max(1, self.concurrency // 10))

    async def _fill(self) -> int:
        if not self._can_take_work():
            return 0
        free = self.concurrency - len(self._tasks)
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
        if self._can_take_work():  # nothing was due: sleep until the next due row
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
        if isinstance(decision, Parked) and isinstance(policy, ParkedHook):
            await policy.parked(item, decision)  # raises: the lease expires, tried again
        await self._outcomes.submit(_Outcome(policy, item, decision))

    async def _record_batch(self, outcomes: list[_Outcome]) -> list[BaseException | None]:
        """Applies a batch of outcomes to their aggregates in one trip to a thread, saves
        them (group commit), then ends their work rows (one transaction). An outcome whose
        aggregate moved meanwhile (a version conflict) is applied again to the fresh one."""
        now = self.clock.now()
        errors: list[BaseException | None] = [None] * len(outcomes)
        # Outcomes for one aggregate (a workflow with several process managers) are
        # recorded in rounds, so each sees the version the one before it wrote.
        for indexes in _rounds_by_aggregate(outcomes):
            answers = await self._record_round([outcomes[i] for i in indexes], now)
            for index, error in zip(indexes, answers, strict=True):
                errors[index] = error
        return errors

    async def _record_round(
        self, outcomes: list[_Outcome], now: datetime
    ) -> list[BaseException | None]:
        errors = await self._apply_and_save(outcomes, now)
        conflicted = [
            o for o, e in zip(outcomes, errors, strict=True) if isinstance(e, IntegrityError)
        ]
        if conflicted:
            again = dict(
                zip(map(id, conflicted), await self._apply_and_save(conflicted, now), strict=True)
            )
            errors = [again.get(id(o), e) for o, e in zip(outcomes, errors, strict=True)]
        ends = [self._end(o) for o, e in zip(outcomes, errors, strict=True) if e is None]
        await asyncio.gather(*ends)
        return errors

    async def _apply_and_save(
        self, outcomes: list[_Outcome], now: datetime
    ) -> list[BaseException | None]:
        applied = await asyncio.to_thread(_apply_outcomes, outcomes, now)
        saves = iter(
            await asyncio.gather(
                *(self._save(r) for r in applied if isinstance(r, list) and r),
                return_exceptions=True,
            )
        )
        errors: list[BaseException | None] = []
        for outcome, result in zip(outcomes, applied, strict=True):
            if isinstance(result, OutcomeNotApplicable):  # the aggregate moved on meanwhile
                log.info(
                    "outcome not recorded",
                    extra={"work_id": str(outcome.item.id), "reason": str(result)},
                )
                errors.append(None)
            elif isinstance(result, BaseException):
                errors.append(result)  # nothing recorded: the lease expires, it is tried again
            else:
                saved = next(saves) if result else None
                errors.append(saved if isinstance(saved, BaseException) else None)
        return errors

    async def _save(self, aggregates: list[Aggregate]) -> None:
        if self.committer is None:
            raise RuntimeError("this engine has no event store: its policies save nothing")
        await self.committer.save(*aggregates)

    def _end(self, outcome: _Outcome) -> Awaitable[None]:
        decision = outcome.decision
        if isinstance(decision, RetryScheduled):
            return self.store.reschedule(
                outcome.item, self.owner, decision.retry_at, decision.error
            )
        if isinstance(decision, PollScheduled):
            return self.store.poll_later(outcome.item, self.owner, decision.poll_at)
        return self.store.finish(outcome.item, self.owner)


def _rounds_by_aggregate(outcomes: list[_Outcome]) -> list[list[int]]:
    """Indexes of `outcomes` in rounds where each aggregate appears at most once."""
    rounds: list[list[int]] = []
    seen: dict[UUID, int] = {}
    for index, outcome in enumerate(outcomes):
        round_ = seen.get(outcome.item.aggregate_id, -1) + 1
        seen[outcome.item.aggregate_id] = round_
        if round_ == len(rounds):
            rounds.append([])
        rounds[round_].append(index)
    return rounds


@dataclass(frozen=True)
class _Outcome:
    policy: WorkPolicy
    item: WorkItem
    decision: Decision


def _apply_outcomes(
    outcomes: list[_Outcome], now: datetime
) -> list[list[Aggregate] | BaseException]:
    """Runs in a worker thread: each policy loads its aggregate and records the decision."""
    results: list[list[Aggregate] | BaseException] = []
    for outcome in outcomes:
        if isinstance(outcome.decision, PollScheduled):  # nothing new: not an event
            results.append([])
            continue
        try:
            results.append(list(outcome.policy.record(outcome.item, outcome.decision, now)))
        except Exception as error:
            results.append(error)
    return results
