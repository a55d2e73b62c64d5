"""The work engine's polling, on real PostgreSQL: a `Pending` outcome reschedules the row
(`PollScheduled`) without an event and gives the attempt number back; past the deadline the
work is parked.

The policies here save nothing, as the lending poller's do: the engine has no committer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.work import WorkEngine, WorkScheduler, WorkStore
from domain.clock import ManualClock
from domain.work import (
    Decision,
    NoPayload,
    Outcome,
    Pending,
    PollScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)

ENGINES = [pytest.param(WorkEngine, WorkStore, id="core-engine")]


class ScriptedPolicy:
    """Answers the outcomes it is given, one per attempt, and keeps what it saw. Polls
    have no retry budget: their deadline governs."""

    payload_type = NoPayload
    retry = RetrySettings(budget=None)

    def __init__(self, kind: str, outcomes: list[Outcome[str]]) -> None:
        self.kind = kind
        self.outcomes = outcomes
        self.attempts: list[int] = []
        self.recorded: list[Decision[str]] = []

    def plan(self, event: Any) -> Sequence[WorkRequest[NoPayload]]:
        return [event]

    async def attempt(self, item: WorkItem[NoPayload]) -> Outcome[str]:
        self.attempts.append(item.attempt)
        return self.outcomes.pop(0) if self.outcomes else Pending(timedelta(seconds=10))

    def record(
        self, item: WorkItem[NoPayload], decision: Decision[str], at: datetime
    ) -> Sequence[Any]:
        assert not isinstance(decision, PollScheduled), "a poll that finds nothing is no event"
        self.recorded.append(decision)
        return []


def row(database_url: str, work_id: uuid.UUID) -> tuple[Any, ...] | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT next_attempt, due_at, lease_owner FROM ledgerflow_work WHERE id = %s",
            (work_id,),
        ).fetchone()


async def until(check: Any, within: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within}s: {check()!r}")


async def run_polls(
    database_url: str,
    engine_class: type[WorkEngine],
    store_class: type[WorkStore],
    outcomes: list[Outcome[str]],
    deadline_in: timedelta | None,
) -> tuple[ScriptedPolicy, ManualClock, uuid.UUID, Any]:
    clock = ManualClock()
    kind = f"test.poll.{uuid.uuid4().hex[:8]}"
    policy = ScriptedPolicy(kind, outcomes)
    work_id = uuid.uuid4()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=1, max_size=3, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    store = store_class(pool)
    request = WorkRequest(
        id=work_id,
        kind=kind,
        aggregate_id=uuid.uuid4(),
        due_at=clock.now(),
        payload=NoPayload(),
        deadline=clock.now() + deadline_in if deadline_in else None,
    )
    async with pool.connection() as conn, conn.transaction():
        await WorkScheduler(policy).apply(conn.cursor(), [request])  # type: ignore[list-item]
    engine = engine_class(
        store,
        [policy],
        None,
        clock,
        conninfo=database_url,
        lease_seconds=60,
        idle_poll_seconds=0.02,
    )
    return policy, clock, work_id, (engine, pool)


@pytest.mark.parametrize(("engine_class", "store_class"), ENGINES)
def test_pending_reschedules_the_row_without_an_event_and_keeps_the_attempt_number(
    database_url: str, engine_class: type[WorkEngine], store_class: type[WorkStore]
) -> None:
    async def scenario() -> None:
        outcomes: list[Outcome[str]] = [
            Pending(timedelta(seconds=10)),
            Pending(timedelta(seconds=10)),
            Succeeded("done"),
        ]
        policy, clock, work_id, (engine, pool) = await run_polls(
            database_url, engine_class, store_class, outcomes, None
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop))
        try:
            start = clock.now()
            await until(lambda: len(policy.attempts) == 1)
            found = await until(lambda: (r := row(database_url, work_id)) and r[2] is None and r)
            assert found[0] == 1  # the attempt number was given back
            assert found[1] == start + timedelta(seconds=10)
            assert policy.recorded == []
            clock.advance(timedelta(seconds=10))
            await until(lambda: len(policy.attempts) == 2)
            await until(lambda: (r := row(database_url, work_id)) and r[2] is None)
            clock.advance(timedelta(seconds=10))
            await until(lambda: policy.recorded)
            await until(lambda: row(database_url, work_id) is None)
            assert policy.attempts == [1, 1, 1]  # three polls, one attempt
            assert [type(d).__name__ for d in policy.recorded] == ["Completed"]
        finally:
            stop.set()
            await task
            await pool.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("engine_class", "store_class"), ENGINES)
def test_past_the_deadline_the_work_is_parked(
    database_url: str, engine_class: type[WorkEngine], store_class: type[WorkStore]
) -> None:
    async def scenario() -> None:
        outcomes: list[Outcome[str]] = [Pending(timedelta(seconds=10)), TransientFailure("503")]
        policy, clock, work_id, (engine, pool) = await run_polls(
            database_url, engine_class, store_class, outcomes, timedelta(seconds=15)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop))
        try:
            await until(lambda: len(policy.attempts) == 1)
            await until(lambda: (r := row(database_url, work_id)) and r[2] is None)
            clock.advance(timedelta(seconds=10))
            await until(lambda: len(policy.attempts) == 2)
            await until(lambda: (r := row(database_url, work_id)) and r[2] is None)
            assert policy.recorded and type(policy.recorded[0]).__name__ == "RetryScheduled"
            clock.advance(timedelta(seconds=60))  # past the deadline: the next poll parks
            await until(lambda: len(policy.recorded) == 2)
            assert type(policy.recorded[1]).__name__ == "Parked"
            assert "deadline" in policy.recorded[1].error  # type: ignore[union-attr]
            await until(lambda: row(database_url, work_id) is None)
        finally:
            stop.set()
            await task
            await pool.close()

    asyncio.run(scenario())
