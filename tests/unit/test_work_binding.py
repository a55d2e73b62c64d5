"""A policy as the engine drives it (adapters/work/policy.py): a leased row's payload is
decoded to the policy's type, its outcome decided with the policy's own retry settings,
and only decisions worth an event are left to record."""

from __future__ import annotations

import asyncio
import dataclasses
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
    PermanentFailure,
    PollScheduled,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
    streak_ended,
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


def streaked(count: int, error: str = "ProviderUnavailable: 503") -> WorkItem[object]:
    """A leased row whose last `count` attempts failed with `error`."""
    return dataclasses.replace(
        leased(), streak=FailureStreak(count, error, T0, error, T0 + timedelta(seconds=count))
    )


def test_a_failure_like_the_last_only_counts_on_the_row_and_its_party_hears_of_it() -> None:
    failure: TransientFailure[int] = TransientFailure("ProviderUnavailable: 503 again")
    policy = Scripted(failure, RetrySettings(budget=None))
    first = run(policy, leased())
    assert isinstance(first.decision, RetryScheduled) and first.decision.begins_streak
    assert first.record is not None  # the first of a streak is an event
    assert (first.answered, first.error) == (False, failure.error)

    again = run(policy, streaked(4))
    assert isinstance(again.decision, RetryScheduled) and again.record is None
    assert again.decision.streak is not None and again.decision.streak.count == 5
    assert again.decision.streak.first_failed_at == T0  # the streak goes on from its start

    other = run(
        Scripted(TransientFailure("OutcomeUnknown: reset"), RetrySettings(None)), streaked(4)
    )
    assert isinstance(other.decision, RetryScheduled) and other.decision.begins_streak
    assert other.record is not None  # another kind of error: a new streak, an event


def test_money_moving_policies_record_every_failure() -> None:
    class EveryAttempt(Scripted):
        records_every_failure = True

    attempted = run(
        EveryAttempt(TransientFailure("ProviderUnavailable: 503"), RetrySettings(None)), streaked(9)
    )
    assert isinstance(attempted.decision, RetryScheduled) and attempted.record is not None


def test_what_ends_a_streak_names_it_so_its_last_failure_is_recorded() -> None:
    row = streaked(4)
    assert row.streak is not None
    assert streak_ended(row, Completed(Succeeded("ok"))) == row.streak
    assert streak_ended(leased(), Completed(Succeeded("ok"))) is None  # no streak
    assert streak_ended(streaked(1), Completed(Succeeded("ok"))) is None  # its own event
    goes_on = RetryScheduled(
        "ProviderUnavailable: 503", T0, streak=row.streak.after("ProviderUnavailable: x", T0)
    )
    assert streak_ended(row, goes_on) is None
    new_kind = RetryScheduled(
        "OutcomeUnknown: x", T0, streak=FailureStreak.begin("OutcomeUnknown: x", T0)
    )
    assert streak_ended(row, new_kind) == row.streak


def test_a_refusal_is_an_answer_and_obsolete_work_tells_nothing_of_its_party() -> None:
    refused = run(Scripted(PermanentFailure("400"), RetrySettings(None)), leased())
    assert (refused.answered, refused.error) == (True, None)
    assert run(Scripted(Obsolete("gone"), RetrySettings(None)), leased()).answered is None
