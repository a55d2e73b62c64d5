"""Reading the event store in bulk: aggregates by the batch, followers by topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import AggregateReader, load_aggregates, open_application
from adapters.follower import Event, Follower, run_followers
from domain.access import Actor
from domain.sms.aggregate import Sms
from processes.sms.application import SmsApplication

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _sms(n: int, *, sent: bool) -> Sms:
    sms = Sms(
        message_id=f"m-{n}-{uuid.uuid4().hex[:6]}",
        phone_number="+254712345678",
        text=f"text {n}",
        correlation_id=None,
        requested_at=T0,
        actor=ACTOR,
    )
    if sent:
        sms.record_sent(1, f"SM{n}", T0, actor=ACTOR)
    return sms


def test_aggregates_load_by_the_batch_each_caller_its_own_copy(fresh_database_url: str) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    try:
        saved = [_sms(n, sent=n % 2 == 0) for n in range(6)]
        app.save(*saved)
        missing = uuid.uuid4()
        ids = [s.id for s in saved] + [missing, saved[0].id]

        loaded = load_aggregates(app, ids)

        assert isinstance(loaded[6], AggregateNotFoundError)
        for aggregate, original in zip(loaded[:6], saved, strict=True):
            assert isinstance(aggregate, Sms)
            assert aggregate.id == original.id
            assert aggregate.version == original.version
            assert aggregate.status == original.status
        assert loaded[7] is not loaded[0]  # one id asked twice: two copies

        async def concurrently() -> list[Any]:
            reader = AggregateReader(app)
            try:
                return await asyncio.gather(*(reader.get(i) for i in ids), return_exceptions=True)
            finally:
                await reader.close()

        answers = asyncio.run(concurrently())
        assert [getattr(a, "version", None) for a in answers[:6]] == [s.version for s in saved]
        assert isinstance(answers[6], AggregateNotFoundError)
    finally:
        app.close()


class _Recorder:
    """A processor that keeps the batches it is given (only `topics`' events, if any)."""

    def __init__(self, name: str, topics: tuple[str, ...] = ()) -> None:
        self.name = name
        self.topics = topics
        self.batches: list[Sequence[Event]] = []

    @property
    def seen(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        self.batches.clear()

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        self.batches.append(list(events))


@pytest.mark.parametrize("batch_size", [2, 500])
def test_a_follower_of_topics_sees_only_them_and_moves_past_the_rest(
    fresh_database_url: str, batch_size: int
) -> None:
    app = open_application(SmsApplication, fresh_database_url)
    try:
        app.save(*(_sms(n, sent=n < 5) for n in range(5)))
        # The log ends with events the follower does not read.
        app.save(*(_sms(n, sent=False) for n in range(5, 12)))
        head = app.recorder.max_notification_id()
        processor = _Recorder("test_sent_only", topics=(get_topic(Sms.SmsSent),))

        async def follow() -> tuple[int, int]:
            async with AsyncConnectionPool(fresh_database_url, open=False) as pool:
                follower = Follower(app, processor, pool, batch_size=batch_size)
                await follower.setup()
                first = await follower.catch_up()
                again = await follower.catch_up()
                assert await follower.position() == head
                return first, again

        first, again = asyncio.run(follow())
    finally:
        app.close()
    assert first == 5 and again == 0
    assert all(isinstance(event, Sms.SmsSent) for event in processor.seen)
    assert len(processor.seen) == 5


class _WeighingRecorder(_Recorder):
    """Weighs a sent SMS 3, anything else 1; notes the position each part starts from,
    and the order in which events were weighed and parts applied."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.starts: list[int] = []
        self.steps: list[str] = []

    def weight(self, event: Event) -> int:
        self.steps.append("weigh")
        return 3 if isinstance(event, Sms.SmsSent) else 1

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        self.steps.append(f"apply {len(events)}")
        await cur.execute(
            "SELECT position FROM ledgerflow_positions WHERE follower = %s", (self.name,)
        )
        row = await cur.fetchone()
        self.starts.append(row[0] if row else -1)
        await super().apply(cur, events)


def test_a_follower_commits_a_heavy_batch_in_parts_of_at_most_its_weight(
    fresh_database_url: str,
) -> None:
    """Batches of 4 events, 4 units of weight a part: each (requested, sent) pair weighs 4
    and is committed on its own, with the position it reached, as soon as it is decoded;
    while it is applied, only the part after it is decoded."""
    app = open_application(SmsApplication, fresh_database_url)
    try:
        app.save(*(_sms(n, sent=n < 3) for n in range(5)))  # 3 pairs, then 2 requests
        head = app.recorder.max_notification_id()
        processor = _WeighingRecorder("test_weighing")

        async def follow() -> int:
            async with AsyncConnectionPool(fresh_database_url, open=False) as pool:
                follower = Follower(app, processor, pool, batch_size=4)
                await follower.setup()
                applied = await follower.catch_up()
                assert await follower.position() == head
                return applied

        applied = asyncio.run(follow())
    finally:
        app.close()
    assert applied == 8
    assert [len(batch) for batch in processor.batches] == [2, 2, 2, 2]
    assert [type(batch[-1]) for batch in processor.batches[:3]] == [Sms.SmsSent] * 3
    assert processor.starts == [0, 2, 4, 6]
    # Read 4 events at a time. A part is complete when the next event would overweigh it
    # (or the read ends): parts 1-4 are complete after 3, 4, 7 and 8 events are weighed.
    # The next part is decoded (in a thread) while one is applied, so when part k is
    # applied, at least part k and at most part k + 1 are weighed.
    weighed = [
        processor.steps[:index].count("weigh")
        for index, step in enumerate(processor.steps)
        if step.startswith("apply")
    ]
    assert len(weighed) == 4
    assert all(
        low <= count <= high
        for count, low, high in zip(weighed, [3, 4, 7, 8], [4, 7, 8, 8], strict=True)
    ), processor.steps


def test_under_a_stream_of_commits_followers_apply_batches_not_each_commit(
    fresh_database_url: str,
) -> None:
    """20 commits in quick succession, a 2 s minimum interval: the first commit is
    applied at once, the rest together, and nothing is lost."""
    app = open_application(SmsApplication, fresh_database_url)
    processor = _Recorder("test_batches")

    async def follow() -> None:
        stop = asyncio.Event()
        async with AsyncConnectionPool(fresh_database_url, open=False) as pool:
            follower = Follower(app, processor, pool, idle_poll_seconds=30)
            running = asyncio.create_task(
                run_followers([follower], stop, fresh_database_url, group="test", min_interval=2)
            )
            await asyncio.to_thread(app.save, _sms(-1, sent=False))
            while not processor.batches:  # leading, and quiet for the 2 s since
                await asyncio.sleep(0.05)
                assert not running.done(), running
            await asyncio.sleep(2.1)
            processor.batches.clear()
            for n in range(20):
                await asyncio.to_thread(app.save, _sms(n, sent=False))
                await asyncio.sleep(0.01)
            while len(processor.seen) < 20:
                await asyncio.sleep(0.05)
                assert not running.done(), running
            stop.set()
            await running

    try:
        asyncio.run(asyncio.wait_for(follow(), timeout=60))
    finally:
        app.close()
    assert len(processor.seen) == 20
    assert len(processor.batches) <= 3, [len(batch) for batch in processor.batches]


class _PlanModeRecorder(_Recorder):
    """Notes the plan cache mode its statements run under."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.modes: list[str] = []

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Event]) -> None:
        await cur.execute("SHOW plan_cache_mode")
        row = await cur.fetchone()
        self.modes.append(row[0] if row else "")
        await super().apply(cur, events)


def test_a_follower_plans_its_statements_for_the_tables_as_they_are(
    fresh_database_url: str,
) -> None:
    """Read models grow from empty: a generic plan cached while a table was small would be
    kept until the next ANALYZE, so a follower's transaction plans each statement anew,
    and the setting ends with the transaction."""
    app = open_application(SmsApplication, fresh_database_url)
    processor = _PlanModeRecorder("test_plan_mode")

    async def follow() -> str:
        async with AsyncConnectionPool(fresh_database_url, min_size=1, max_size=1) as pool:
            follower = Follower(app, processor, pool, batch_size=2)
            await follower.setup()
            await follower.catch_up()
            async with pool.connection() as conn:  # the same connection, after the commit
                cur = await conn.execute("SHOW plan_cache_mode")
                row = await cur.fetchone()
        return row[0] if row else ""

    try:
        app.save(*(_sms(n, sent=False) for n in range(3)))
        after = asyncio.run(follow())
    finally:
        app.close()
    assert processor.modes == ["force_custom_plan"] * 2
    assert after == "auto"
