"""The `Reimbursement` aggregate: a member's claim, its decision, and its payment.

Lifecycle: pending -> approved | denied (one decision, by an administrator of the
account's bank). Once approved, the payment: pending -> paid | failed, and an operator
may retry a failed one in a new round: a new payment with a new idempotency key after a
definitive failure, the same payment's key after an unknown outcome (never paid twice).
What follows a decision (mail, SMS, payment calls) is recorded here too, so the audit
trail shows every outcome of every outbound call.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor, Owner
from domain.actors import RecordsActor, fill_before_actors
from domain.reimbursements.errors import (
    NotAnAdministratorOfTheBank,
    PaymentNotRetryable,
    PaymentOutcomeNotApplicable,
    ReimbursementNotPending,
)


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Purpose(StrEnum):
    """Why the member is told something: each is one mail (and maybe one SMS)."""

    APPROVED = "approved"
    DENIED = "denied"
    PAYMENT_FAILED = "payment_failed"


def payment_id_for(reimbursement_id: UUID, round_: int) -> UUID:
    """The payment's id and idempotency key: one per round, the same on every attempt."""
    return uuid5(reimbursement_id, f"payment:{round_}")


def notification_key(purpose: str, round_: int) -> str:
    """Names one intended message: `approved`, `denied`, `payment-2-failed`."""
    if purpose == Purpose.PAYMENT_FAILED:
        return f"payment-{round_}-failed"
    return purpose


class Reimbursement(Aggregate):
    class ReimbursementSubmitted(RecordsActor, Aggregate.Created):
        bank_account_id: UUID
        bank_id: UUID
        member_id: UUID
        amount: Decimal
        currency: str
        description: str
        submitted_at: datetime
        actor: Actor

    class ReimbursementApproved(RecordsActor, Aggregate.Event):
        administrator_id: UUID
        at: datetime
        payment_round: int
        payment_id: UUID
        actor: Actor

    class ReimbursementDenied(RecordsActor, Aggregate.Event):
        administrator_id: UUID
        reason: str
        at: datetime
        actor: Actor

    class PaymentAttemptFailed(RecordsActor, Aggregate.Event):
        round: int
        attempt: int
        error: str
        at: datetime
        retry_at: datetime
        actor: Actor

    class PaymentSubmitted(RecordsActor, Aggregate.Event):
        round: int
        attempt: int
        rail_payment_id: str
        at: datetime
        actor: Actor

    class PaymentSucceeded(RecordsActor, Aggregate.Event):
        round: int
        rail_payment_id: str
        at: datetime
        actor: Actor

    class PaymentFailed(RecordsActor, Aggregate.Event):
        round: int
        error: str
        # True: the rail refused the payment or reported FAILURE, so no money moved. False:
        # the outcome is unknown (the create gave up, no final status came): the payment
        # may exist at the rail.
        definitive: bool
        at: datetime
        actor: Actor

        # Version 2 added `definitive`, version 3 the actor.
        class_version = 3
        upcast_v2_v3 = staticmethod(fill_before_actors)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Stored before `definitive`: these errors left the outcome unknown (the
            # create gave up, the status was refused or never final).
            unknown = ("gave up", "status refused", "no final status")
            state["definitive"] = not str(state["error"]).startswith(unknown)

    class PaymentRetryRequested(RecordsActor, Aggregate.Event):
        round: int
        payment_id: UUID
        next_attempt: int
        at: datetime
        actor: Actor

    class NotificationSent(RecordsActor, Aggregate.Event):
        channel: str
        purpose: str
        round: int
        message_id: str
        attempt: int
        at: datetime
        actor: Actor

    class NotificationFailed(RecordsActor, Aggregate.Event):
        channel: str
        purpose: str
        round: int
        message_id: str
        attempt: int
        error: str
        at: datetime
        retry_at: datetime | None  # None: given up
        actor: Actor

    @event(ReimbursementSubmitted)
    def __init__(
        self,
        bank_account_id: UUID,
        bank_id: UUID,
        member_id: UUID,
        amount: Decimal,
        currency: str,
        description: str,
        submitted_at: datetime,
        actor: Actor,
    ) -> None:
        self.bank_account_id = bank_account_id
        self.bank_id = bank_id
        self.member_id = member_id
        self.amount = amount
        self.currency = currency
        self.description = description
        self.submitted_at = submitted_at
        self.status = Status.PENDING
        self.decided_by: UUID | None = None
        self.decided_at: datetime | None = None
        self.denial_reason: str | None = None
        self.payment_status: PaymentStatus | None = None
        self.payment_round = 0
        self.payment_id: UUID | None = None
        self.payment_attempts = 0
        self.rail_payment_id: str | None = None
        self.payment_error: str | None = None
        self.payment_failure_definitive: bool | None = None
        self.paid_at: datetime | None = None
        self.notifications: dict[str, str] = {}

    @property
    def owner(self) -> Owner:
        """Its member's, and its bank's administrators'."""
        return Owner(member_id=self.member_id, bank_id=self.bank_id)

    # Commands -------------------------------------------------------------------------

    def approve(
        self, administrator_id: UUID, administrator_bank_id: UUID, at: datetime, *, actor: Actor
    ) -> None:
        self.check_may_decide(administrator_id, administrator_bank_id)
        self.check_pending()
        self._approved(
            administrator_id=administrator_id,
            at=at,
            payment_round=1,
            payment_id=payment_id_for(self.id, 1),
            actor=actor,
        )

    def deny(
        self,
        administrator_id: UUID,
        administrator_bank_id: UUID,
        reason: str,
        at: datetime,
        *,
        actor: Actor,
    ) -> None:
        self.check_may_decide(administrator_id, administrator_bank_id)
        self.check_pending()
        self._denied(administrator_id=administrator_id, reason=reason, at=at, actor=actor)

    def record_payment_attempt_failed(
        self,
        round_: int,
        attempt: int,
        error: str,
        at: datetime,
        retry_at: datetime,
        *,
        actor: Actor,
    ) -> None:
        self.check_payment_in_progress(round_)
        self._payment_attempt_failed(
            round=round_, attempt=attempt, error=error, at=at, retry_at=retry_at, actor=actor
        )

    def record_payment_submitted(
        self, round_: int, attempt: int, rail_payment_id: str, at: datetime, *, actor: Actor
    ) -> None:
        self.check_payment_in_progress(round_)
        if self.rail_payment_id is not None:
            raise PaymentOutcomeNotApplicable(f"payment round {round_} was submitted already")
        self._payment_submitted(
            round=round_, attempt=attempt, rail_payment_id=rail_payment_id, at=at, actor=actor
        )

    def record_payment_succeeded(
        self, round_: int, rail_payment_id: str, at: datetime, *, actor: Actor
    ) -> None:
        self.check_payment_in_progress(round_)
        self._payment_succeeded(round=round_, rail_payment_id=rail_payment_id, at=at, actor=actor)

    def record_payment_failed(
        self, round_: int, error: str, at: datetime, *, definitive: bool, actor: Actor
    ) -> None:
        self.check_payment_in_progress(round_)
        self._payment_failed(round=round_, error=error, definitive=definitive, at=at, actor=actor)

    def retry_payment(self, at: datetime, *, actor: Actor) -> None:
        """An operator's retry of a failed payment, in a new round. After a definitive
        failure it is a new payment with a key of its own. After an unknown outcome the
        failed round's payment may exist at the rail, so the retry keeps its key: the rail
        answers with that payment (paid, pending or failed) instead of paying twice."""
        if self.payment_status is not PaymentStatus.FAILED:
            raise PaymentNotRetryable(self.payment_status.value if self.payment_status else None)
        round_ = self.payment_round + 1
        self._payment_retry_requested(
            round=round_,
            payment_id=(
                payment_id_for(self.id, round_)
                if self.payment_failure_definitive or self.payment_id is None
                else self.payment_id
            ),
            next_attempt=self.payment_attempts + 1,
            at=at,
            actor=actor,
        )

    def record_notification_sent(
        self,
        channel: str,
        purpose: str,
        round_: int,
        message_id: str,
        attempt: int,
        at: datetime,
        *,
        actor: Actor,
    ) -> None:
        self._notification_sent(
            channel=channel,
            purpose=purpose,
            round=round_,
            message_id=message_id,
            attempt=attempt,
            at=at,
            actor=actor,
        )

    def record_notification_failed(
        self,
        channel: str,
        purpose: str,
        round_: int,
        message_id: str,
        attempt: int,
        error: str,
        at: datetime,
        retry_at: datetime | None,
        *,
        actor: Actor,
    ) -> None:
        self._notification_failed(
            channel=channel,
            purpose=purpose,
            round=round_,
            message_id=message_id,
            attempt=attempt,
            error=error,
            at=at,
            retry_at=retry_at,
            actor=actor,
        )

    # Guards ---------------------------------------------------------------------------

    def check_may_decide(self, administrator_id: UUID, administrator_bank_id: UUID) -> None:
        if administrator_bank_id != self.bank_id:
            raise NotAnAdministratorOfTheBank(administrator_id, self.bank_id)

    def check_pending(self) -> None:
        if self.status is not Status.PENDING:
            raise ReimbursementNotPending(self.status.value)

    def check_payment_in_progress(self, round_: int) -> None:
        if self.payment_status is not PaymentStatus.PENDING or round_ != self.payment_round:
            shown = self.payment_status.value if self.payment_status else "not started"
            raise PaymentOutcomeNotApplicable(
                f"payment round {round_} is over (round {self.payment_round} is {shown})"
            )

    # Events (mutation only) -----------------------------------------------------------

    @event(ReimbursementApproved)
    def _approved(
        self,
        administrator_id: UUID,
        at: datetime,
        payment_round: int,
        payment_id: UUID,
        actor: Actor,
    ) -> None:
        self.status = Status.APPROVED
        self.decided_by = administrator_id
        self.decided_at = at
        self._start_payment(payment_round, payment_id)

    @event(ReimbursementDenied)
    def _denied(self, administrator_id: UUID, reason: str, at: datetime, actor: Actor) -> None:
        self.status = Status.DENIED
        self.decided_by = administrator_id
        self.decided_at = at
        self.denial_reason = reason

    @event(PaymentAttemptFailed)
    def _payment_attempt_failed(
        self, round: int, attempt: int, error: str, at: datetime, retry_at: datetime, actor: Actor
    ) -> None:
        self.payment_attempts = max(self.payment_attempts, attempt)
        self.payment_error = error

    @event(PaymentSubmitted)
    def _payment_submitted(
        self, round: int, attempt: int, rail_payment_id: str, at: datetime, actor: Actor
    ) -> None:
        self.payment_attempts = max(self.payment_attempts, attempt)
        self.rail_payment_id = rail_payment_id
        self.payment_error = None

    @event(PaymentSucceeded)
    def _payment_succeeded(
        self, round: int, rail_payment_id: str, at: datetime, actor: Actor
    ) -> None:
        self.payment_status = PaymentStatus.PAID
        self.rail_payment_id = rail_payment_id
        self.paid_at = at

    @event(PaymentFailed)
    def _payment_failed(
        self, round: int, error: str, definitive: bool, at: datetime, actor: Actor
    ) -> None:
        self.payment_status = PaymentStatus.FAILED
        self.payment_error = error
        self.payment_failure_definitive = definitive

    @event(PaymentRetryRequested)
    def _payment_retry_requested(
        self, round: int, payment_id: UUID, next_attempt: int, at: datetime, actor: Actor
    ) -> None:
        self._start_payment(round, payment_id)

    @event(NotificationSent)
    def _notification_sent(
        self,
        channel: str,
        purpose: str,
        round: int,
        message_id: str,
        attempt: int,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.notifications[f"{channel}:{notification_key(purpose, round)}"] = "sent"

    @event(NotificationFailed)
    def _notification_failed(
        self,
        channel: str,
        purpose: str,
        round: int,
        message_id: str,
        attempt: int,
        error: str,
        at: datetime,
        retry_at: datetime | None,
        actor: Actor,
    ) -> None:
        state = "retrying" if retry_at is not None else "failed"
        self.notifications[f"{channel}:{notification_key(purpose, round)}"] = state

    def _start_payment(self, round_: int, payment_id: UUID) -> None:
        self.payment_status = PaymentStatus.PENDING
        self.payment_round = round_
        self.payment_id = payment_id
        self.rail_payment_id = None
        self.payment_error = None
        self.payment_failure_definitive = None
