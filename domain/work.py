"""The contract between the work engine and a workflow's process managers (its policies).

A policy says what to call when its events arrive (`plan` answers `WorkRequest`s), makes
one attempt (`attempt` answers an `Outcome`) and applies the engine's `Decision` to its
aggregate (`record`). The engine (adapters/work/) owns leasing, concurrency, backoff,
retry budgets and parking, the same for every workflow; `decide` is its one rule.

A policy is typed by three parameters, so a policy that returns the wrong thing does
not type-check:

- `P`, its payload: what a row of due work carries to the attempt (a frozen dataclass
  or a pydantic model, named by `payload_type`; the engine stores it as JSON and hands
  it back as a `P`);
- `R`, what a successful attempt learned (the provider's message id, a charge's result);
- `F`, what a transient failure tells `record` beyond its text (None unless the policy
  needs more, as billing does to tell a failed charge from a failed lookup).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeAlias, runtime_checkable
from uuid import UUID

from eventsourcing.domain import Aggregate
from typing_extensions import TypeVar

P = TypeVar("P")
R = TypeVar("R")
F = TypeVar("F", default=None)
# The values below are immutable, so they are covariant: a `Succeeded[Charged]` is a
# `Succeeded[ChargeResult]` (a union of results) wherever one is expected.
P_co = TypeVar("P_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)
F_co = TypeVar("F_co", covariant=True, default=None)
P_contra = TypeVar("P_contra", contravariant=True)
F_contra = TypeVar("F_contra", contravariant=True, default=None)


# What a policy plans ----------------------------------------------------------------------


@dataclass(frozen=True)
class NoPayload:
    """The payload of work that needs nothing beyond its aggregate's id."""


@dataclass(frozen=True)
class WorkRequest(Generic[P_co]):
    """Ask the engine to call a third party. `id` is deterministic: a repeat is a no-op."""

    id: UUID
    kind: str
    aggregate_id: UUID
    due_at: datetime
    payload: P_co
    first_attempt: int = 1  # an operator's retry goes on counting from the last attempt
    deadline: datetime | None = None  # past it the work parks, budget or not (polls)


@dataclass(frozen=True)
class CancelWork:
    """The aggregate reached an end: any work left for it of this kind is obsolete."""

    aggregate_id: UUID
    kind: str


@dataclass(frozen=True)
class RetrySettings:
    """How a kind of work is retried: capped exponential backoff with full jitter, for
    at most `budget` after the work first became due (None: for as long as it takes).
    Attempts within the budget are unlimited; once it is spent, the work is parked for
    an operator."""

    budget: timedelta | None
    base: timedelta = timedelta(seconds=0.5)
    cap: timedelta = timedelta(seconds=60)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Uniform in [0, min(cap, base * 2^(attempt-1))]."""
        # In float seconds, the exponent bounded: work retried without a budget reaches
        # attempt numbers whose power of two no timedelta (or float) can hold, long after
        # the cap took over.
        exponent = min(max(attempt - 1, 0), 64)
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent)
        return timedelta(seconds=rng.uniform(0, ceiling))

    def spent(self, first_due_at: datetime, now: datetime) -> bool:
        return self.budget is not None and now >= first_due_at + self.budget


@dataclass(frozen=True)
class FailureStreak:
    """Attempts in a row that failed with the same kind of error (the error's text before
    its first ":", e.g. `ProviderUnavailable`), kept on the work row: a long outage updates
    the row, and only the streak's first failure (and, once it ends, its last) is an event.
    """

    count: int
    first_error: str
    first_failed_at: datetime
    last_error: str
    last_failed_at: datetime

    @classmethod
    def begin(cls, error: str, at: datetime) -> FailureStreak:
        return cls(1, error, at, error, at)

    def after(self, error: str, at: datetime) -> FailureStreak:
        """The streak once another attempt failed with `error`: longer, or a new one."""
        if error_kind(error) != error_kind(self.last_error):
            return FailureStreak.begin(error, at)
        return replace(self, count=self.count + 1, last_error=error, last_failed_at=at)


def error_kind(error: str) -> str:
    return error.split(":", 1)[0].strip()


# What the engine hands an attempt -----------------------------------------------------------


@dataclass(frozen=True)
class WorkItem(Generic[P_co]):
    """One leased attempt. `attempt` is its number (1-based, never reused)."""

    id: UUID
    kind: str
    aggregate_id: UUID
    attempt: int
    payload: P_co
    first_due_at: datetime  # the retry budget runs from here
    deadline: datetime | None = None
    streak: FailureStreak | None = None  # the attempts before this one that failed in a row


# What an attempt answers ------------------------------------------------------------------


@dataclass(frozen=True)
class Succeeded(Generic[R_co]):
    result: R_co


@dataclass(frozen=True)
class PermanentFailure:
    """Refused for good (a 4xx, a refusal of the domain): recorded, never retried."""

    error: str


@dataclass(frozen=True)
class TransientFailure(Generic[F_co]):
    """Worth another attempt while the budget lasts. `error` is safe to log and record."""

    error: str
    cause: F_co | None = None


@dataclass(frozen=True)
class Pending:
    """The third party answered "not ready yet" (a poll): ask again later. Not an event,
    not an attempt."""

    check_again_in: timedelta


@dataclass(frozen=True)
class Obsolete:
    """The aggregate no longer expects this work (it ended or moved on meanwhile): the
    work ends and nothing is recorded."""

    reason: str


Outcome: TypeAlias = Succeeded[R] | PermanentFailure | TransientFailure[F] | Pending | Obsolete


class OutcomeNotApplicable(Exception):
    """Raised by an aggregate asked to record an outcome it no longer expects (it moved
    on between the attempt and its recording): the engine ends the work, as `Obsolete`."""


# What the engine decided ------------------------------------------------------------------


@dataclass(frozen=True)
class Completed(Generic[R_co]):
    outcome: Succeeded[R_co] | PermanentFailure


@dataclass(frozen=True)
class RetryScheduled(Generic[F_co]):
    error: str
    retry_at: datetime
    cause: F_co | None = None
    streak: FailureStreak | None = None  # with this failure

    @property
    def begins_streak(self) -> bool:
        """Whether this failure is the first of its streak (worth an event): a repeat of
        the same kind of error only updates the work row."""
        return self.streak is None or self.streak.count == 1


@dataclass(frozen=True)
class PollScheduled:
    """Nothing new: the row is rescheduled, the aggregate is not touched."""

    poll_at: datetime


@dataclass(frozen=True)
class Parked(Generic[F_co]):
    """The budget is spent or the deadline passed: the work waits for an operator.
    `cause` is the last transient failure's (None: a poll reached its deadline)."""

    error: str
    cause: F_co | None = None
    streak: FailureStreak | None = None  # with this failure (None: a poll's deadline)


@dataclass(frozen=True)
class Dropped:
    """The work is obsolete: nothing is recorded (`record` is not called)."""

    reason: str


Decision: TypeAlias = Completed[R] | RetryScheduled[F] | PollScheduled | Parked[F] | Dropped


def streak_ended(item: WorkItem[P], decision: Decision[R, F]) -> FailureStreak | None:
    """The streak of failures before this attempt that `decision` ends (a success, a
    refusal, another kind of error), when it has failures not on record: a streak of one
    is its own first event. A policy records its last failure before the decision, so
    the log tells how long it lasted and how it ended."""
    streak = item.streak
    if streak is None or streak.count < 2:
        return None
    goes_on = isinstance(decision, RetryScheduled | Parked) and (
        decision.streak is not None and decision.streak.count > 1
    )
    return None if goes_on else streak


def decide(
    item: WorkItem[P],
    outcome: Outcome[R, F],
    retry: RetrySettings,
    now: datetime,
    rng: random.Random,
) -> Decision[R, F]:
    """The engine's one rule: what an attempt's outcome means for its work."""
    if isinstance(outcome, Succeeded | PermanentFailure):
        return Completed(outcome)
    if isinstance(outcome, Obsolete):
        return Dropped(outcome.reason)
    cause = outcome.cause if isinstance(outcome, TransientFailure) else None
    streak = None
    if isinstance(outcome, TransientFailure):
        streak = (
            item.streak.after(outcome.error, now)
            if item.streak is not None
            else FailureStreak.begin(outcome.error, now)
        )
    if item.deadline is not None and now >= item.deadline:
        return Parked(f"deadline {item.deadline.isoformat()} passed", cause, streak)
    if isinstance(outcome, Pending):
        return PollScheduled(now + outcome.check_again_in)
    if retry.spent(item.first_due_at, now):
        return Parked(outcome.error, cause, streak)
    return RetryScheduled(outcome.error, now + retry.delay(item.attempt, rng), cause, streak)


# The policy, as the engine sees it ----------------------------------------------------------


class WorkPolicy(Protocol[P, R, F]):
    """A workflow's process manager. `kind` names its work (`sms.send`).

    Invariant in P, R and F (each is both taken and given): policies of several kinds
    share no common `WorkPolicy[...]`, so the engine holds them erased and binds each to
    its own types again (adapters/work/policy.py)."""

    kind: str
    payload_type: type[P]
    retry: RetrySettings

    def plan(self, event: object) -> Sequence[WorkRequest[P] | CancelWork]:
        """What the event asks of the outside world (pure; may be empty)."""
        ...

    async def attempt(self, item: WorkItem[P]) -> Outcome[R, F]:
        """Make one call through the workflow's port and classify the result."""
        ...

    def record(
        self, item: WorkItem[P], decision: Decision[R, F], at: datetime
    ) -> Sequence[Aggregate]:
        """Apply the decision to the aggregate (loaded here) and return it for saving
        (or nothing, when the decision is not worth an event). Never called for
        `PollScheduled` (a poll that finds nothing new is not an event) or `Dropped`.

        Runs in a worker thread: it may read the event store. Raises an
        `OutcomeNotApplicable` when the aggregate no longer expects this outcome.
        """
        ...


@runtime_checkable
class ParkedHook(Protocol[P_contra, F_contra]):
    """A policy that must act when its work is parked, before the row goes (one with no
    event store of its own, which reports by message): raising keeps the row."""

    async def parked(self, item: WorkItem[P_contra], decision: Parked[F_contra]) -> None: ...


@runtime_checkable
class CallsThirdParty(Protocol):
    """A policy whose calls go to one third party: that party's health (domain/health.py)
    decides whether its work is leased, and every attempt's outcome is an observation."""

    third_party: str


@runtime_checkable
class RecordsEveryFailure(Protocol):
    """A policy whose every failed attempt is an event, streak or not: attempts that can
    move money (a charge, a payment) each stay on the record."""

    records_every_failure: bool


@runtime_checkable
class PlansFromEvents(Protocol):
    """A policy whose `plan` answers only events of these classes: its scheduler reads
    only those from the log (the rest would be decoded to be ignored)."""

    plans_from: tuple[type, ...]
