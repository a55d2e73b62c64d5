"""Planning work: a batch's steps take effect in event order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from psycopg import AsyncConnection

from adapters.work import WorkScheduler
from domain.work import CancelWork, NoPayload, RetrySettings, WorkItem, WorkRequest

KIND = "test_send"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Event:
    """`round` > 0 asks for work of that round; 0 ends the aggregate's work."""

    originator_id: uuid.UUID
    round: int


class _Policy:
    kind = KIND
    payload_type = NoPayload
    retry = RetrySettings(budget=None)

    def plan(self, event: Any) -> Sequence[WorkRequest[NoPayload] | CancelWork]:
        if event.round == 0:
            return [CancelWork(aggregate_id=event.originator_id, kind=KIND)]
        work_id = uuid.uuid5(event.originator_id, str(event.round))
        return [
            WorkRequest(
                id=work_id,
                kind=KIND,
                aggregate_id=event.originator_id,
                due_at=T0,
                payload=NoPayload(),
            )
        ]

    async def attempt(self, item: WorkItem[NoPayload]) -> Any:
        raise NotImplementedError

    def record(self, item: WorkItem[NoPayload], decision: Any, at: datetime) -> Sequence[Any]:
        raise NotImplementedError


def _rows_after(url: str, batches: list[list[_Event]]) -> dict[uuid.UUID, list[uuid.UUID]]:
    async def run() -> dict[uuid.UUID, list[uuid.UUID]]:
        scheduler = WorkScheduler(_Policy())
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            for batch in batches:
                async with conn.transaction():
                    await scheduler.apply(conn.cursor(), cast(Any, batch))  # stand-ins
            cur = await conn.execute("SELECT aggregate_id, id FROM ledgerflow_work ORDER BY id")
            rows: dict[uuid.UUID, list[uuid.UUID]] = {}
            for aggregate_id, work_id in await cur.fetchall():
                rows.setdefault(aggregate_id, []).append(work_id)
            return rows

    return asyncio.run(run())


def test_a_request_after_a_cancel_in_the_same_batch_is_kept(fresh_database_url: str) -> None:
    """Parked, then retried by an operator before the scheduler caught up: both events
    in one batch must leave the retry's row (it used to be deleted with the old one)."""
    retried, finished, restarted = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows = _rows_after(
        fresh_database_url,
        [
            [_Event(retried, 1), _Event(restarted, 1)],
            [
                _Event(retried, 0),  # parked: the stored round-1 row goes
                _Event(retried, 2),  # retried: a round-2 row comes
                _Event(finished, 1),  # requested and finished within the batch
                _Event(finished, 0),
                _Event(restarted, 0),
            ],
        ],
    )
    assert rows == {retried: [uuid.uuid5(retried, "2")]}
