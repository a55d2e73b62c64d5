"""A policy as the engine drives it (adapters/work/policy.py): a leased row's payload is
decoded to the policy's type, its outcome decided with the policy's own retry settings,
and only decisions worth an event are left to record."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eventsourcing.domain import Aggregate

from adapters.work.policy import Attempted, BoundPolicy
from domain.clock import ManualClock
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Dropped,
    FailureStreak,
    Obsolete,
    Outcome,
    Parked,
    Pending,
    PollScheduled,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Payload:
    name: str
    count: int


class Scripted:
    kind = "test.bound"
    payload_type = Payload

    def __init__(self, outcome: Outcome[str, int], retry: RetrySettings) -> None:
        self.outcome = outcome
        self.retry = retry
        self.seen: list[WorkItem[Payload]] = []
        self.recorded: list[Decision[str, int]] = []
        self.parked_with: list[Parked[int]] = []

    def plan(self, event: object) -> Sequence[WorkRequest[Payload] | CancelWork]:
        return []

    async def attempt(self, item: WorkItem[Payload]) -> Outcome[str, int]:
        self.seen.append(item)
        return self.outcome

    def record(
        self, item: WorkItem[Payload], decision: Decision[str, int], at: datetime
    ) -> Sequence[Aggregate]:
        self.recorded.append(decision)
        return []

    async def parked(self, item: WorkItem[Payload], decision: Parked[int]) -> None:
        self.parked_with.append(decision)


def leased(first_due_at: datetime = T0) -> WorkItem[object]:
    return WorkItem(
        id=uuid.uuid4(),
        kind="test.bound",
        aggregate_id=uuid.uuid4(),
        attempt=3,
        payload={"name": "a", "count": "7"},  # as stored: JSON
        first_due_at=first_due_at,
    )


def run(policy: Scripted, work: WorkItem[object], now: datetime = T0) -> Attempted:
    return asyncio.run(BoundPolicy(policy).attempt(work, ManualClock(now), random.Random(1)))


def test_the_payload_is_decoded_and_a_completed_attempt_is_left_to_record() -> None:
    policy = Scripted(Succeeded("done"), RetrySettings(budget=None))
    attempted = run(policy, leased())
    assert policy.seen[0].payload == Payload("a", 7) and policy.seen[0].attempt == 3
    assert attempted.decision == Completed(Succeeded("done"))
    assert attempted.record is not None and policy.recorded == []  # recorded later, in a thread
    assert attempted.record(T0) == [] and policy.recorded == [Completed(Succeeded("done"))]


def test_obsolete_work_is_dropped_and_nothing_is_recorded() -> None:
    policy = Scripted(Obsolete("moved on"), RetrySettings(budget=timedelta(minutes=2)))
    attempted = run(policy, leased())
    assert attempted.decision == Dropped("moved on") and attempted.record is None


def test_a_poll_with_nothing_new_records_nothing() -> None:
    policy = Scripted(Pending(timedelta(seconds=2)), RetrySettings(budget=None))
    attempted = run(policy, leased())
    assert attempted.decision == PollScheduled(T0 + timedelta(seconds=2))
    assert attempted.record is None


def test_the_policys_own_budget_decides_and_its_hook_hears_of_parking_first() -> None:
    failure = TransientFailure("503", cause=42)
    within = Scripted(failure, RetrySettings(budget=timedelta(minutes=2)))
    retried = run(within, leased(), now=T0 + timedelta(minutes=1))
    assert isinstance(retried.decision, RetryScheduled) and within.parked_with == []
    spent = Scripted(failure, RetrySettings(budget=timedelta(minutes=2)))
    parked = run(spent, leased(), now=T0 + timedelta(minutes=2))
    streak = FailureStreak.begin("503", T0 + timedelta(minutes=2))
    assert parked.decision == Parked("503", 42, streak) == spent.parked_with[0]
    assert parked.record is not None
