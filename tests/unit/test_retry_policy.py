"""Retries: capped exponential backoff with full jitter, permanent failures not retried,
parked after the last attempt."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.work import (
    Completed,
    Parked,
    Pending,
    PermanentFailure,
    PollScheduled,
    RetryPolicy,
    RetryScheduled,
    Succeeded,
    TransientFailure,
    WorkItem,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def item(attempt: int, last_attempt: int = 8) -> WorkItem:
    return WorkItem(
        id=uuid.uuid4(),
        kind="k",
        aggregate_id=uuid.uuid4(),
        attempt=attempt,
        last_attempt=last_attempt,
        payload={},
    )


@given(attempt=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_the_delay_is_jittered_under_a_capped_exponential(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=60)
    delay = policy.delay(attempt, random.Random(seed))
    assert timedelta(0) <= delay <= timedelta(seconds=min(60, 0.5 * 2 ** (attempt - 1)))


def test_full_jitter_spreads_retries() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=60)
    delays = {policy.delay(5, random.Random(seed)) for seed in range(50)}
    assert len(delays) == 50


def test_decisions() -> None:
    policy, rng = RetryPolicy(), random.Random(1)
    assert isinstance(policy.decide(item(1), Succeeded(), NOW, rng), Completed)
    assert isinstance(policy.decide(item(1), PermanentFailure("400"), NOW, rng), Completed)
    retry = policy.decide(item(3), TransientFailure("503"), NOW, rng)
    assert isinstance(retry, RetryScheduled) and retry.retry_at >= NOW
    assert isinstance(policy.decide(item(8), TransientFailure("503"), NOW, rng), Parked)


def test_a_poll_that_finds_nothing_is_rescheduled_until_its_deadline() -> None:
    policy, rng = RetryPolicy(), random.Random(1)
    polling = WorkItem(
        id=uuid.uuid4(),
        kind="k",
        aggregate_id=uuid.uuid4(),
        attempt=50,
        last_attempt=8,
        payload={},
        deadline=NOW + timedelta(seconds=30),
    )
    decision = policy.decide(polling, Pending(timedelta(seconds=2)), NOW, rng)
    assert decision == PollScheduled(NOW + timedelta(seconds=2))  # polls are not attempts
    late = policy.decide(polling, Pending(timedelta(seconds=2)), NOW + timedelta(minutes=1), rng)
    assert isinstance(late, Parked) and "deadline" in late.error
    transient = policy.decide(polling, TransientFailure("503"), NOW + timedelta(minutes=1), rng)
    assert isinstance(transient, Parked)
