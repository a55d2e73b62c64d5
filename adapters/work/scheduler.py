"""Planning work: a follower's processor that turns a workflow's events into rows.

It inserts due work in the same transaction as its position, so nothing is planned
twice or forgotten, and NOTIFYs the engine's workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from typing_extensions import TypeVar

from adapters.follower import Event
from adapters.work.policy import PayloadCodec, planned_topics
from adapters.work.schema import WORK_CHANNEL, WORK_COLUMNS
from domain.work import CancelWork, WorkPolicy, WorkRequest
from projections.rows import insert_rows

P = TypeVar("P")
R = TypeVar("R")
F = TypeVar("F", default=None)


class WorkScheduler(Generic[P, R, F]):
    """A follower's processor: turns a policy's events into rows of due work."""

    def __init__(self, policy: WorkPolicy[P, R, F]) -> None:
        self.policy = policy
        self.name = f"work_scheduler:{policy.kind}"
        self.payloads = PayloadCodec(policy.payload_type)
        self.topics = planned_topics(policy)

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
        requests: dict[tuple[UUID, str], dict[UUID, WorkRequest[P]]] = {}
        cancels: set[tuple[UUID, str]] = set()
        for event in events:
            for step in self.policy.plan(event):
                key = (step.aggregate_id, step.kind)
                if isinstance(step, WorkRequest):
                    requests.setdefault(key, {}).setdefault(step.id, step)
                elif isinstance(step, CancelWork):
                    requests.pop(key, None)
                    cancels.add(key)
        if cancels:
            await cur.executemany(
                "DELETE FROM ledgerflow_work WHERE aggregate_id = %s AND kind = %s",
                sorted(cancels, key=str),
            )
        rows = [self._row(request) for planned in requests.values() for request in planned.values()]
        if rows:
            await insert_rows(cur, "ledgerflow_work", WORK_COLUMNS, rows)  # as JSON arrays
            await cur.execute(f"NOTIFY {WORK_CHANNEL}")

    def _row(self, request: WorkRequest[P]) -> dict[str, Any]:
        return {
            "id": request.id,
            "kind": request.kind,
            "aggregate_id": request.aggregate_id,
            "payload": self.payloads.dump(request.payload),
            "next_attempt": request.first_attempt,
            "due_at": request.due_at,
            "first_due_at": request.due_at,
            "deadline": request.deadline,
        }
