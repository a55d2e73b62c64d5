"""Retries: capped exponential backoff with full jitter, permanent failures not retried,
parked once the retry budget (time since the work first became due) is spent, or past a
poll's deadline; obsolete work is dropped."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.work import (
    Completed,
    Dropped,
    FailureStreak,
    NoPayload,
    Obsolete,
    Parked,
    Pending,
    PermanentFailure,
    PollScheduled,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    decide,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
BUDGET = timedelta(minutes=2)
RETRY = RetrySettings(budget=BUDGET)


def item(
    attempt: int, first_due_at: datetime = NOW, deadline: datetime | None = None
) -> WorkItem[NoPayload]:
    return WorkItem(
        id=uuid.uuid4(),
        kind="k",
        aggregate_id=uuid.uuid4(),
        attempt=attempt,
        payload=NoPayload(),
        first_due_at=first_due_at,
        deadline=deadline,
    )


@given(attempt=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_the_delay_is_jittered_under_a_capped_exponential(attempt: int, seed: int) -> None:
    settings = RetrySettings(None, base=timedelta(seconds=0.5), cap=timedelta(seconds=60))
    delay = settings.delay(attempt, random.Random(seed))
    assert timedelta(0) <= delay <= timedelta(seconds=min(60, 0.5 * 2 ** (attempt - 1)))


def test_full_jitter_spreads_retries() -> None:
    settings = RetrySettings(None, base=timedelta(seconds=1), cap=timedelta(seconds=60))
    delays = {settings.delay(5, random.Random(seed)) for seed in range(50)}
    assert len(delays) == 50


def test_decisions() -> None:
    rng = random.Random(1)
    success = decide(item(1), Succeeded("ok"), RETRY, NOW, rng)
    assert success == Completed(Succeeded("ok"))
    assert isinstance(decide(item(1), PermanentFailure("400"), RETRY, NOW, rng), Completed)
    retry = decide(item(3), TransientFailure("503"), RETRY, NOW, rng)
    assert isinstance(retry, RetryScheduled) and retry.retry_at >= NOW
    late = NOW + BUDGET
    parked = decide(item(8), TransientFailure("503", "why"), RETRY, late, rng)
    assert parked == Parked("503", "why", FailureStreak.begin("503", late))


@given(
    attempt=st.integers(1, 10_000),
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    seed=st.integers(0, 2**32),
)
def test_a_transient_failure_parks_exactly_when_the_budget_is_spent(
    attempt: int, elapsed: timedelta, seed: int
) -> None:
    decision = decide(
        item(attempt), TransientFailure("503"), RETRY, NOW + elapsed, random.Random(seed)
    )
    if elapsed < BUDGET:  # however many attempts were made
        assert isinstance(decision, RetryScheduled) and decision.retry_at >= NOW + elapsed
    else:
        assert decision == Parked("503", streak=FailureStreak.begin("503", NOW + elapsed))


@given(
    attempt=st.integers(1, 10**9),
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
def test_without_a_budget_a_transient_failure_is_never_parked(
    attempt: int, elapsed: timedelta
) -> None:
    forever = RetrySettings(budget=None)
    decision = decide(
        item(attempt), TransientFailure("503"), forever, NOW + elapsed, random.Random(1)
    )
    assert isinstance(decision, RetryScheduled)


def test_the_transient_failures_cause_reaches_the_decision() -> None:
    decision = decide(item(1), TransientFailure("503", cause=7), RETRY, NOW, random.Random(1))
    assert isinstance(decision, RetryScheduled) and decision.cause == 7


def test_obsolete_work_is_dropped_whatever_the_budget() -> None:
    for settings in (RETRY, RetrySettings(budget=None)):
        late = NOW + timedelta(days=1)
        decision = decide(item(5), Obsolete("paid meanwhile"), settings, late, random.Random(1))
        assert decision == Dropped("paid meanwhile")


def test_a_poll_that_finds_nothing_is_rescheduled_until_its_deadline() -> None:
    rng, polls = random.Random(1), RetrySettings(budget=None)
    polling = item(50, deadline=NOW + timedelta(seconds=30))
    decision = decide(polling, Pending(timedelta(seconds=2)), polls, NOW, rng)
    assert decision == PollScheduled(NOW + timedelta(seconds=2))  # polls are not attempts
    past = NOW + timedelta(minutes=1)
    late = decide(polling, Pending(timedelta(seconds=2)), polls, past, rng)
    assert isinstance(late, Parked) and "deadline" in late.error and late.cause is None
    transient = decide(polling, TransientFailure("503"), polls, past, rng)
    assert isinstance(transient, Parked)


def test_a_poll_within_its_deadline_is_not_parked_by_the_budget() -> None:
    """The deadline governs a poll; `Pending` never spends the budget."""
    old = item(1, first_due_at=NOW - timedelta(days=1), deadline=NOW + timedelta(days=1))
    decision = decide(old, Pending(timedelta(seconds=2)), RETRY, NOW, random.Random(1))
    assert decision == PollScheduled(NOW + timedelta(seconds=2))
