"""The poller's process manager: submit each application to the bank partner, then poll
its job at a fixed interval until it is decided, and send the result to the platform.

It runs in the poller service (`ledgerflow worker lending`), which knows the platform only
through messages: applications to assess arrive as integration events, and results leave
as commands on `ledgerflow.commands.lending`. It never reads the lending event store;
its state is its own rows of due work.

- "Not decided yet" is the expected answer, not an error: `Pending`, which reschedules
  the row without an event and without spending an attempt.
- Transient partner errors are retried (backoff capped at the interval) and never end the
  polling (its retry budget is None); only the deadline does: the application is then
  flagged for attention.
- A result is sent before the row is finished, so a crash in between sends it again; the
  platform records each result once (a repeat is a no-op).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.clock import Clock
from domain.lending.commands import (
    FlagApplication,
    PollerResult,
    RecordApplicationDecision,
    RecordSubmissionRefused,
)
from domain.lending.ports import (
    ApplicationUnknownToPartner,
    BankPartner,
    JobStatus,
    PartnerApplication,
)
from domain.messaging import CommandQueue, Message, command_queue_name
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import (
    CancelWork,
    Decision,
    Outcome,
    Parked,
    Pending,
    PermanentFailure,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.lending.integration import ToAssess
from processes.outbound import transient_failure, work_id

log = logging.getLogger(__name__)

ASSESS = "lending.assess"
RESULTS_QUEUE = command_queue_name("lending")


def assessment_work_id(application_id: UUID, round_: int) -> UUID:
    """One row per application and round: a redelivered event adds nothing."""
    return work_id(application_id, ASSESS, round_)


@dataclass(frozen=True)
class AssessPayload:
    """Who applies (the partner's submission is made from it) and the round of polling."""

    first_name: str
    last_name: str
    round: int = 1


@dataclass(frozen=True)
class Decided:
    """The partner decided: the decision went to the platform."""

    status: JobStatus
    job_id: str


class ApplicationPolling:
    kind = ASSESS
    payload_type = AssessPayload

    def __init__(
        self,
        partner: BankPartner,
        results: CommandQueue,
        clock: Clock,
        *,
        interval: timedelta,
        deadline: timedelta,
        retry: RetrySettings,
    ) -> None:
        self.partner = partner
        self.results = results
        self.clock = clock
        self.interval = interval
        self.deadline = deadline
        self.retry = retry
        # Applications this process knows the partner has: it polls them instead of
        # submitting. Only a hint: another poller that takes the row over submits once
        # more and the partner's "already used" answer tells it so.
        self._submitted: set[UUID] = set()

    def plan(self, event: object) -> Sequence[WorkRequest[AssessPayload] | CancelWork]:
        if not isinstance(event, ToAssess):
            return []
        return [
            WorkRequest(
                id=assessment_work_id(event.application_id, event.round),
                kind=ASSESS,
                aggregate_id=event.application_id,
                due_at=event.at,
                payload=AssessPayload(event.first_name, event.last_name, event.round),
                deadline=event.at + self.deadline,
            )
        ]

    async def attempt(self, item: WorkItem[AssessPayload]) -> Outcome[Decided]:
        application_id = item.aggregate_id
        if application_id not in self._submitted:
            return await self._submit(item)
        try:
            job = await self.partner.job(application_id)
        except ApplicationUnknownToPartner:
            self._submitted.discard(application_id)  # submit again on the next attempt
            return TransientFailure("the partner does not know the application")
        except (ProviderUnavailable, OutcomeUnknown, ProviderRejected) as error:
            return transient_failure(error)
        if job.status == "pending":
            return Pending(self.interval)
        await self._send(
            RecordApplicationDecision(
                application_id=application_id, status=job.status, job_id=job.id
            ),
            f"{application_id}:decision",
        )
        self._submitted.discard(application_id)
        log.info(
            "application decided",
            extra={"application_id": str(application_id), "status": job.status, "job_id": job.id},
        )
        return Succeeded(Decided(job.status, job.id))

    async def _submit(self, item: WorkItem[AssessPayload]) -> Outcome[Decided]:
        application_id = item.aggregate_id
        application = PartnerApplication(
            id=application_id,
            first_name=item.payload.first_name,
            last_name=item.payload.last_name,
        )
        try:
            await self.partner.submit(application)
        except ProviderRejected as error:
            await self._send(
                RecordSubmissionRefused(application_id=application_id, error=error.detail[:500]),
                f"{application_id}:refused",
            )
            return PermanentFailure(error.detail)
        except (ProviderUnavailable, OutcomeUnknown) as error:
            # A lost answer is safe to retry: the partner answers "already used".
            return transient_failure(error)
        self._submitted.add(application_id)
        return Pending(self.interval)

    async def parked(self, item: WorkItem[AssessPayload], decision: Parked) -> None:
        """The deadline passed: flag it."""
        self._submitted.discard(item.aggregate_id)
        round_ = item.payload.round
        await self._send(
            FlagApplication(
                application_id=item.aggregate_id,
                reason=f"no decision from the bank partner in time: {decision.error}"[:500],
            ),
            f"{item.aggregate_id}:flag:{round_}",
        )

    def record(
        self, item: WorkItem[AssessPayload], decision: Decision[Decided], at: datetime
    ) -> Sequence[Aggregate]:
        return []  # the results went to the platform as commands: nothing to save here

    async def _send(self, result: PollerResult, message_id: str) -> None:
        await self.results.send(
            RESULTS_QUEUE,
            Message(
                body=result.model_dump_json().encode(),
                message_id=message_id,
                correlation_id=str(result.application_id),
                headers={"command": result.type},
            ),
        )
