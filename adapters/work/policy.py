"""A policy as the engine drives it: its payloads to and from the table's JSON, and one
attempt through to the engine's decision.

The engine serves policies of different kinds from one list, so it takes them with
their types erased (`AnyWorkPolicy`) and binds each here: within a
`BoundPolicy[P, R, F]` the payload decoded from a row, the outcome of the attempt, the
decision and what `record` is given are checked to be of that policy's own types.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeAlias

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from pydantic import TypeAdapter
from typing_extensions import TypeVar

from adapters.work.metrics import count_decision, measured_call
from adapters.work.schema import LeasedWork, StoredPayload
from domain.clock import Clock
from domain.work import (
    CallsThirdParty,
    Decision,
    Dropped,
    Obsolete,
    Parked,
    ParkedHook,
    PlansFromEvents,
    PollScheduled,
    RecordsEveryFailure,
    RetryScheduled,
    TransientFailure,
    WorkItem,
    WorkPolicy,
    decide,
)

log = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")
F = TypeVar("F", default=None)

AnyWorkPolicy: TypeAlias = WorkPolicy[Any, Any, Any]
"""A policy of any kind, as a list of several kinds holds it; `BoundPolicy` restores its types."""


class PayloadCodec(Generic[P]):
    """A policy's payload type to and from JSON (pydantic), built once per policy."""

    def __init__(self, payload_type: type[P]) -> None:
        self._adapter: TypeAdapter[P] = TypeAdapter(payload_type)

    def dump(self, payload: P) -> StoredPayload:
        return self._adapter.dump_python(payload, mode="json")

    def load(self, stored: StoredPayload) -> P:
        return self._adapter.validate_python(stored)


def planned_topics(policy: AnyWorkPolicy) -> tuple[str, ...]:
    """The event topics a policy plans from (`PlansFromEvents`); () for every event."""
    if isinstance(policy, PlansFromEvents):
        return tuple(get_topic(cls) for cls in policy.plans_from)
    return ()


@dataclass(frozen=True)
class Attempted:
    """An attempt decided: how its row ends (`decision`), and `record`, which applies the
    decision to the aggregate (in a worker thread; None: nothing to record)."""

    work: LeasedWork
    decision: Decision[object, object]
    record: Callable[[datetime], Sequence[Aggregate]] | None
    # What the attempt tells of its third party's health: True it answered (a refusal is
    # an answer), False it failed transiently, None no call was made (obsolete).
    answered: bool | None = None
    error: str | None = None


class BoundPolicy(Generic[P, R, F]):
    """One policy with its payload codec: what the engine calls for a leased row."""

    def __init__(self, policy: WorkPolicy[P, R, F]) -> None:
        self.policy = policy
        self.kind = policy.kind
        self.payloads = PayloadCodec(policy.payload_type)
        self.third_party = policy.third_party if isinstance(policy, CallsThirdParty) else None
        self.records_every_failure = (
            isinstance(policy, RecordsEveryFailure) and policy.records_every_failure
        )

    async def attempt(self, work: LeasedWork, clock: Clock, rng: random.Random) -> Attempted:
        """One attempt of a leased row: decoded, made, decided (parked: the policy's hook
        first, whose error keeps the row for another attempt)."""
        item = WorkItem(
            id=work.id,
            kind=work.kind,
            aggregate_id=work.aggregate_id,
            attempt=work.attempt,
            payload=self.payloads.load(work.payload),
            first_due_at=work.first_due_at,
            deadline=work.deadline,
            streak=work.streak,
        )
        outcome = await measured_call(self.kind, self.policy.attempt(item))
        answered = (
            None if isinstance(outcome, Obsolete) else not isinstance(outcome, TransientFailure)
        )
        error = outcome.error if isinstance(outcome, TransientFailure) else None
        decision = decide(item, outcome, self.policy.retry, clock.now(), rng)
        count_decision(self.kind, decision)
        if isinstance(decision, Parked) and isinstance(self.policy, ParkedHook):
            await self.policy.parked(item, decision)
        if isinstance(decision, Dropped):
            log.info(
                "work dropped",
                extra={"work_id": str(item.id), "kind": item.kind, "reason": decision.reason},
            )
        if isinstance(decision, PollScheduled | Dropped):  # nothing new: not an event
            return Attempted(work, decision, None, answered, error)
        if (
            isinstance(decision, RetryScheduled)
            and not decision.begins_streak
            and not self.records_every_failure
        ):  # another failure like the last: the row's streak counts it
            return Attempted(work, decision, None, answered, error)
        record = partial(self.policy.record, item, decision)
        return Attempted(work, decision, record, answered, error)
