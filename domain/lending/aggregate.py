"""The `LoanApplication` aggregate: one customer's request for a loan, and its assessment.

Lifecycle: pending -> completed | rejected (the partner's decision), pending -> failed
(the partner refused the submission itself), pending -> needs_attention (no decision by
the deadline); an operator can send a flagged application back to pending (polled again,
a new round), and a decision that arrives late for a flagged one is still recorded. The
id is ours and is also the id the partner knows the application by.

Submission attempts that did not get through are recorded as the poller reports them
(not each one: see `RecordSubmissionAttemptFailed`): `attempts` is the number of the
round's last failed one, `last_error` why it failed. A new round starts counting again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.access import Actor, Owner
from domain.actors import RecordsActor, fill_before_actors
from domain.lending.errors import ApplicationAlreadyFinal, ApplicationNotFlagged


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    REJECTED = "rejected"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


FINAL = frozenset(
    {ApplicationStatus.COMPLETED, ApplicationStatus.REJECTED, ApplicationStatus.FAILED}
)


class LoanApplication(Aggregate):
    class ApplicationSubmitted(RecordsActor, Aggregate.Created):
        first_name: str
        last_name: str
        amount: Decimal
        currency: str
        term_months: int
        email: str
        submitted_at: datetime
        client: str | None  # who submitted it (a token's subject): it alone reads it
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Stored before events named their actor and their owner: nobody recorded,
            # and no client's (operators' and auditors' only).
            fill_before_actors(state)
            state["client"] = None

    class ApplicationDecided(RecordsActor, Aggregate.Event):
        status: str  # "completed" | "rejected"
        job_id: str
        at: datetime
        actor: Actor

    class SubmissionRefused(RecordsActor, Aggregate.Event):
        error: str
        at: datetime
        actor: Actor

    class SubmissionAttemptFailed(RecordsActor, Aggregate.Event):
        round: int
        attempt: int
        error: str
        at: datetime
        actor: Actor

    class ApplicationFlagged(RecordsActor, Aggregate.Event):
        reason: str
        at: datetime
        actor: Actor

    class PollingResumed(RecordsActor, Aggregate.Event):
        round: int
        at: datetime
        first_name: str
        last_name: str
        actor: Actor

    @event(ApplicationSubmitted)
    def __init__(
        self,
        first_name: str,
        last_name: str,
        amount: Decimal,
        currency: str,
        term_months: int,
        email: str,
        submitted_at: datetime,
        actor: Actor,
        client: str | None = None,
    ) -> None:
        self.first_name = first_name
        self.last_name = last_name
        self.amount = amount
        self.currency = currency
        self.term_months = term_months
        self.email = email
        self.submitted_at = submitted_at
        self.client = client
        self.status = ApplicationStatus.PENDING
        self.job_id: str | None = None
        self.note: str | None = None
        self.decided_at: datetime | None = None
        self.round = 1
        self.attempts = 0  # failed submission attempts of the round, as last reported
        self.last_error: str | None = None

    @property
    def owner(self) -> Owner:
        return Owner(client=self.client)

    # Commands -------------------------------------------------------------------------

    def record_decision(self, status: str, job_id: str, at: datetime, *, actor: Actor) -> bool:
        """Record the partner's decision; answers False (nothing recorded) for a repeat."""
        if self.status in FINAL:
            if self.status.value == status and self.job_id == job_id:
                return False
            raise ApplicationAlreadyFinal(self.status.value)
        self._decided(status=ApplicationStatus(status).value, job_id=job_id, at=at, actor=actor)
        return True

    def record_refusal(self, error: str, at: datetime, *, actor: Actor) -> bool:
        if self.status is ApplicationStatus.FAILED:
            return False
        self.check_not_final()
        self._refused(error=error, at=at, actor=actor)
        return True

    def record_submission_failure(
        self, round: int, attempt: int, error: str, at: datetime, *, actor: Actor
    ) -> bool:
        """Record a failed submission attempt; answers False (nothing recorded) for a
        repeat, an attempt older than the last recorded, one of an earlier round, or one
        reported after the application ended (the outcome stands)."""
        if self.status in FINAL or round != self.round or attempt <= self.attempts:
            return False
        self._submission_failed(round=round, attempt=attempt, error=error, at=at, actor=actor)
        return True

    def flag(self, reason: str, at: datetime, *, actor: Actor) -> bool:
        """Flag for attention; a repeat, or a flag for an application that ended, is a no-op
        (the decision won the race)."""
        if self.status is not ApplicationStatus.PENDING:
            return False
        self._flagged(reason=reason, at=at, actor=actor)
        return True

    def resume_polling(self, at: datetime, *, actor: Actor) -> None:
        if self.status is not ApplicationStatus.NEEDS_ATTENTION:
            raise ApplicationNotFlagged(self.status.value)
        # The names ride along: the poller may have to submit the application again.
        self._resumed(
            round=self.round + 1,
            at=at,
            first_name=self.first_name,
            last_name=self.last_name,
            actor=actor,
        )

    # Guards ---------------------------------------------------------------------------

    def check_not_final(self) -> None:
        if self.status in FINAL:
            raise ApplicationAlreadyFinal(self.status.value)

    # Events (mutation only) -----------------------------------------------------------

    @event(ApplicationDecided)
    def _decided(self, status: str, job_id: str, at: datetime, actor: Actor) -> None:
        self.status = ApplicationStatus(status)
        self.job_id = job_id
        self.note = None
        self.decided_at = at

    @event(SubmissionRefused)
    def _refused(self, error: str, at: datetime, actor: Actor) -> None:
        self.status = ApplicationStatus.FAILED
        self.note = error
        self.decided_at = at

    @event(SubmissionAttemptFailed)
    def _submission_failed(
        self, round: int, attempt: int, error: str, at: datetime, actor: Actor
    ) -> None:
        self.attempts = attempt
        self.last_error = error

    @event(ApplicationFlagged)
    def _flagged(self, reason: str, at: datetime, actor: Actor) -> None:
        self.status = ApplicationStatus.NEEDS_ATTENTION
        self.note = reason

    @event(PollingResumed)
    def _resumed(
        self, round: int, at: datetime, first_name: str, last_name: str, actor: Actor
    ) -> None:
        self.status = ApplicationStatus.PENDING
        self.round = round
        self.note = None
        self.attempts = 0
        self.last_error = None
