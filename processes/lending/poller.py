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
  flagged for attention, with the reason: the partner never accepted the submission
  (its last error and the attempts), or it had it and decided nothing in time.
- A submission that does not get through is reported to the platform, but not each one:
  the first, each new kind of error, every `REPORT_EVERY`th, and the last one before the
  partner accepts the submission, refuses it, or the application is flagged. So the
  application's attempts and last error are exact whenever its assessment moves on, and
  an outage of any length adds a bounded number of events.
- A result is sent before the row is finished, so a crash in between sends it again; the
  platform records each result once (a repeat is a no-op).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.access import Actor
from domain.clock import Clock
from domain.lending.commands import (
    FlagApplication,
    PollerResult,
    RecordApplicationDecision,
    RecordSubmissionAttemptFailed,
    RecordSubmissionRefused,
)
from domain.lending.ports import (
    ApplicationUnknownToPartner,
    BankPartner,
    JobStatus,
    PartnerApplication,
)
from domain.messaging import CommandQueue, Message, actor_headers, command_queue_name
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
# Who the results are the commands of, on the platform's side.
POLLER = Actor.system("lending-poller")
REPORT_EVERY = 10  # failed submissions: every tenth is reported even when nothing changed
MAX_ERROR = 500  # the results' error texts are at most this long


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


@dataclass
class FailedSubmissions:
    """The failed submissions of one application that this process made in its round
    (a hint, like `ApplicationPolling._submitted`: a poller that takes the row over
    reports its first failure again, a no-op when the platform has a later attempt)."""

    attempt: int  # the last failed attempt's number
    error: str  # and why it failed
    reported: int = 0  # the last attempt reported to the platform (0: none yet)
    kinds: set[str] = field(default_factory=set)  # the kinds of error reported

    def note(self, attempt: int, kind: str, error: str) -> bool:
        """Note a failed attempt; answers whether it is worth reporting."""
        self.attempt, self.error = attempt, error
        return not self.reported or kind not in self.kinds or attempt % REPORT_EVERY == 0

    def never_accepted_reason(self) -> str:
        attempts = f"{self.attempt} attempt{'s' if self.attempt != 1 else ''}"
        return f"the bank partner never accepted the submission: {self.error} ({attempts})"


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
        # Applications whose submission has not got through yet, since their first failure.
        self._failed: dict[UUID, FailedSubmissions] = {}

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
            await self._close_failures(item)
            await self._send(
                RecordSubmissionRefused(
                    application_id=application_id, error=error.detail[:MAX_ERROR]
                ),
                f"{application_id}:refused",
            )
            return PermanentFailure(error.detail)
        except (ProviderUnavailable, OutcomeUnknown) as error:
            # A lost answer is safe to retry: the partner answers "already used".
            failure = transient_failure(error)
            await self._failed_submission(item, type(error).__name__, failure.error)
            return failure
        await self._close_failures(item)
        self._submitted.add(application_id)
        return Pending(self.interval)

    async def _failed_submission(
        self, item: WorkItem[AssessPayload], kind: str, error: str
    ) -> None:
        failures = self._failed.setdefault(
            item.aggregate_id, FailedSubmissions(attempt=item.attempt, error=error)
        )
        if failures.note(item.attempt, kind, error):
            await self._report(item, failures)
            failures.kinds.add(kind)

    async def _close_failures(self, item: WorkItem[AssessPayload]) -> FailedSubmissions | None:
        """The submission's failures are over (it got through or was refused, or the
        round ends): report the last one unless it was, and forget them. Answers them
        (None: no submission of this process failed since one got through)."""
        failures = self._failed.get(item.aggregate_id)
        if failures is not None:
            if failures.reported < failures.attempt:
                await self._report(item, failures)
            del self._failed[item.aggregate_id]
        return failures

    async def _report(self, item: WorkItem[AssessPayload], failures: FailedSubmissions) -> None:
        application_id, round_ = item.aggregate_id, item.payload.round
        await self._send(
            RecordSubmissionAttemptFailed(
                application_id=application_id,
                round=round_,
                attempt=failures.attempt,
                error=failures.error[:MAX_ERROR],
            ),
            f"{application_id}:submission-failed:{round_}:{failures.attempt}",
        )
        failures.reported = failures.attempt

    async def parked(self, item: WorkItem[AssessPayload], decision: Parked) -> None:
        """The deadline passed: flag it, saying whether the partner ever had it."""
        failures = await self._close_failures(item)
        if failures is not None:  # no submission of this process got through
            reason = failures.never_accepted_reason()
        else:
            reason = f"no decision from the bank partner in time: {decision.error}"
        await self._send(
            FlagApplication(application_id=item.aggregate_id, reason=reason[:MAX_ERROR]),
            f"{item.aggregate_id}:flag:{item.payload.round}",
        )
        self._submitted.discard(item.aggregate_id)

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
                headers={"command": result.type, **actor_headers(POLLER)},
            ),
        )
