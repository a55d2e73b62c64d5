"""Finding the events of a batch that cannot be applied: by splitting the batch, in log
order, with each failed aggregate's later events waiting behind it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from uuid import UUID, uuid4

import psycopg
import pytest

from adapters.set_aside.errors import RetryLater
from adapters.set_aside.isolation import Isolation, LogEntry, isolate


class Store:
    """An `Attempt` that applies a part all or none, refusing any part holding a bad
    event, and notes each part it was given."""

    def __init__(self, bad: set[int], error: Exception | None = None) -> None:
        self.bad = bad
        self.error = error or ValueError("cannot apply")
        self.applied: list[int] = []
        self.parts: list[list[int]] = []

    async def attempt(self, part: Sequence[LogEntry]) -> None:
        ids = [entry.notification_id for entry in part]
        self.parts.append(ids)
        if self.bad & set(ids):
            raise self.error
        self.applied.extend(ids)


def log(*aggregates: UUID, undecodable: frozenset[int] = frozenset()) -> list[LogEntry]:
    """One entry per aggregate named, notification ids from 1."""
    entries = []
    for n, aggregate in enumerate(aggregates, start=1):
        if n in undecodable:
            entries.append(LogEntry(n, aggregate, n, "t", None, KeyError("unknown topic")))
        else:
            entries.append(LogEntry(n, aggregate, n, "t", object()))
    return entries


def ids(entries: Sequence[LogEntry]) -> list[int]:
    return [entry.notification_id for entry in entries]


def run(entries: list[LogEntry], store: Store, **options: object) -> Isolation:
    return asyncio.run(isolate(entries, store.attempt, **options))  # type: ignore[arg-type]


def test_a_good_batch_is_applied_whole_in_one_attempt() -> None:
    store = Store(bad=set())
    outcome = run(log(*(uuid4() for _ in range(100))), store)
    assert store.parts == [list(range(1, 101))]
    assert ids(outcome.applied) == list(range(1, 101))
    assert outcome.failed == [] and outcome.waiting == []


def test_one_bad_event_is_found_in_few_attempts_and_everything_else_applies() -> None:
    store = Store(bad={337})
    entries = log(*(uuid4() for _ in range(500)))
    outcome = run(entries, store)
    [failure] = outcome.failed
    assert failure.entry.notification_id == 337
    assert failure.error is store.error
    assert sorted(store.applied) == [n for n in range(1, 501) if n != 337]
    assert ids(outcome.applied) == store.applied == sorted(store.applied)  # in log order
    assert len(store.parts) <= 2 * math.ceil(math.log2(500)) + 1


def test_a_batch_known_to_fail_is_split_at_once() -> None:
    store = Store(bad={2})
    error = ValueError("the whole batch failed")
    outcome = run(log(uuid4(), uuid4(), uuid4(), uuid4()), store, failed_with=error)
    assert [1, 2, 3, 4] not in store.parts
    assert ids(outcome.applied) == [1, 3, 4]
    [failure] = outcome.failed
    assert failure.entry.notification_id == 2


def test_a_lone_event_known_to_fail_fails_with_that_error() -> None:
    store = Store(bad={1})
    error = ValueError("out of range")
    outcome = run(log(uuid4()), store, failed_with=error)
    assert store.parts == []
    assert outcome.failed[0].error is error


def test_the_later_events_of_a_failed_aggregate_wait_and_others_go_on() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    store = Store(bad={2})
    #                     1  2  3  4  5  6  7
    outcome = run(log(a, a, b, a, c, b, a), store)
    assert ids(outcome.applied) == [1, 3, 5, 6]  # a's first event came before its failure
    assert [f.entry.notification_id for f in outcome.failed] == [2]
    assert ids(outcome.waiting) == [4, 7]
    assert all(4 not in part and 7 not in part for part in store.parts[1:])


def test_aggregates_set_aside_before_wait_whole() -> None:
    a, b = uuid4(), uuid4()
    store = Store(bad=set())
    outcome = run(log(a, b, a), store, blocked={a})
    assert ids(outcome.applied) == [2]
    assert ids(outcome.waiting) == [1, 3]
    assert store.parts == [[2]]


def test_an_event_that_cannot_be_decoded_fails_where_it_stands() -> None:
    a, b = uuid4(), uuid4()
    store = Store(bad=set())
    entries = log(a, b, a, b, a, undecodable=frozenset({3}))
    outcome = run(entries, store)
    [failure] = outcome.failed
    assert failure.entry.notification_id == 3
    assert isinstance(failure.error, KeyError)
    assert ids(outcome.applied) == [1, 2, 4]
    assert ids(outcome.waiting) == [5]
    assert store.parts == [[1, 2], [4]]  # the decoded runs around it, applied whole


def test_several_bad_events_of_several_aggregates() -> None:
    aggregates = [uuid4() for _ in range(10)]
    entries = log(*(aggregates[n % 10] for n in range(60)))  # 6 events each, interleaved
    store = Store(bad={13, 47})  # aggregates 2 (13 = 2 + 11) and 6 (47 = 6 + 41)
    outcome = run(entries, store)
    assert [f.entry.notification_id for f in outcome.failed] == [13, 47]
    waiting = ids(outcome.waiting)
    assert waiting == [23, 33, 43, 53, 57]  # in log order
    assert ids(outcome.applied) == [n for n in range(1, 61) if n not in {13, 47, *waiting}]


@pytest.mark.parametrize(
    "transient",
    [
        psycopg.errors.SerializationFailure("could not serialize"),
        psycopg.errors.DeadlockDetected("deadlock"),
        psycopg.errors.LockNotAvailable("lock timeout"),
        psycopg.OperationalError("connection lost"),
        RetryLater("the bus is away"),
    ],
)
def test_a_transient_failure_is_raised_not_blamed_on_an_event(transient: Exception) -> None:
    store = Store(bad={1}, error=transient)
    with pytest.raises(type(transient)):
        run(log(uuid4(), uuid4()), store)
