"""The work engine's vocabulary: due work, attempt outcomes and retry decisions.

A workflow's process manager says what to call (`WorkRequest`) when its events arrive,
how to make one attempt (`attempt`) and what an outcome means for its aggregate
(`record`). The engine (adapters/work.py) owns leasing, concurrency and the retry
schedule, the same for every workflow.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol


@dataclass(frozen=True)
class WorkRequest:
    """Ask the engine to call a third party. `id` is deterministic (a repeat is a no-op)."""

    id: UUID
    kind: str
    aggregate_id: UUID
    due_at: datetime
    first_attempt: int = 1
    max_attempts: int | None = None  # None: the engine's setting
    payload: Mapping[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None  # past it, the work is parked (polls, slow partners)


@dataclass(frozen=True)
class CancelWork:
    """The aggregate reached an end: any work left for it is obsolete."""

    aggregate_id: UUID
    kind: str


@dataclass(frozen=True)
class WorkItem:
    """One leased attempt. `attempt` is this attempt's number (1-based, never reused)."""

    id: UUID
    kind: str
    aggregate_id: UUID
    attempt: int
    last_attempt: int  # the attempt after which the work is parked
    payload: Mapping[str, Any]
    deadline: datetime | None = None


class OutcomeNotApplicable(Exception):
    """The aggregate no longer expects this outcome (it ended meanwhile): drop the work."""


@dataclass(frozen=True)
class Succeeded:
    result: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransientFailure:
    error: str


@dataclass(frozen=True)
class PermanentFailure:
    error: str


@dataclass(frozen=True)
class Pending:
    """The third party answered "not ready yet" (a poll): ask again later. Not an event."""

    check_again_in: timedelta


Outcome = Succeeded | TransientFailure | PermanentFailure | Pending


@dataclass(frozen=True)
class Completed:
    outcome: Succeeded | PermanentFailure


@dataclass(frozen=True)
class RetryScheduled:
    error: str
    retry_at: datetime


@dataclass(frozen=True)
class PollScheduled:
    """Nothing new: the row is rescheduled, the aggregate is not touched."""

    poll_at: datetime


@dataclass(frozen=True)
class Parked:
    error: str


Decision = Completed | RetryScheduled | PollScheduled | Parked


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Capped exponential backoff with full jitter: uniform in [0, min(cap, base*2^(n-1))]."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return timedelta(seconds=rng.uniform(0, ceiling))

    def decide(
        self, item: WorkItem, outcome: Outcome, now: datetime, rng: random.Random
    ) -> Decision:
        if isinstance(outcome, Succeeded | PermanentFailure):
            return Completed(outcome)
        if item.deadline is not None and now >= item.deadline:
            return Parked(f"deadline {item.deadline.isoformat()} passed")
        if isinstance(outcome, Pending):
            return PollScheduled(now + outcome.check_again_in)
        if item.attempt >= item.last_attempt:
            return Parked(outcome.error)
        return RetryScheduled(outcome.error, now + self.delay(item.attempt, rng))


@runtime_checkable
class ParkedHook(Protocol):
    """A policy that must act when its work is parked, before the row goes (e.g. one with
    no event store of its own, which reports by message): raising keeps the row."""

    async def parked(self, item: WorkItem, decision: Parked) -> None: ...


@runtime_checkable
class PlansFromEvents(Protocol):
    """A policy whose `plan` answers only events of these classes: its scheduler reads
    only those from the log (the rest would be decoded to be ignored)."""

    plans_from: tuple[type, ...]


class WorkPolicy(Protocol):
    """A workflow's process manager, as the engine sees it."""

    kind: str

    def plan(self, event: DomainEventProtocol[Any]) -> Sequence[WorkRequest | CancelWork]:
        """What the event asks of the outside world (pure; may be empty)."""

    async def attempt(self, item: WorkItem) -> Outcome:
        """Make one call through the workflow's port and classify the result."""

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Aggregate]:
        """Apply the decision to the aggregate (loaded here) and return it for saving
        (or nothing, when the decision is not worth an event). Never called for
        `PollScheduled`: a poll that finds nothing new is not an event.

        Runs in a worker thread: it may read the event store. Raises the workflow's
        own error when the aggregate no longer expects this outcome.
        """
