"""Process managers of the payment: start it at the payment rail, then poll its status.

- `PaymentStart` makes the create call for each round (approval, or an operator's retry).
  The idempotency key is the round's payment id, identical on every attempt, so a retry
  after a lost answer lands on the same payment at the rail. A failure says whether it
  is definitive (refused, FAILURE) or leaves the outcome unknown (gave up, no final
  status): an operator's retry after an unknown outcome keeps the key.
- `PaymentCheck` polls a submitted payment with the engine's polling: "still pending" is
  `Pending(check_again_in=...)`, which reschedules the work row and records no event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from domain.outbound import OutboundError
from domain.reimbursements.aggregate import Reimbursement
from domain.reimbursements.ports import PaymentOrder, PaymentRail, RailPayment, RailStatus
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Outcome,
    Parked,
    Pending,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    WorkItem,
    WorkRequest,
)
from processes.outbound import ANY_NOT_REFUSED, classify, outcome_of, work_id
from processes.reimbursements.application import WORKER, ReimbursementsApplication

log = logging.getLogger(__name__)

START_PAYMENT = "reimbursements.payment"
CHECK_PAYMENT = "reimbursements.payment_status"


@dataclass(frozen=True)
class StartPayload:
    round: int
    payment_id: UUID  # the rail's idempotency key: one payment per id


@dataclass(frozen=True)
class CheckPayload:
    round: int
    rail_payment_id: str


class PaymentStart:
    """Answers the rail's payment (its status so far) as its result."""

    kind = START_PAYMENT
    payload_type = StartPayload
    plans_from = (Reimbursement.ReimbursementApproved, Reimbursement.PaymentRetryRequested)

    def __init__(
        self, application: ReimbursementsApplication, rail: PaymentRail, retry: RetrySettings
    ) -> None:
        self.application = application
        self.rail = rail
        self.retry = retry

    def plan(self, event: object) -> Sequence[WorkRequest[StartPayload] | CancelWork]:
        if isinstance(event, Reimbursement.ReimbursementApproved):
            round_, payment_id, first_attempt = event.payment_round, event.payment_id, 1
        elif isinstance(event, Reimbursement.PaymentRetryRequested):
            round_, payment_id, first_attempt = event.round, event.payment_id, event.next_attempt
        else:
            return []
        return [
            WorkRequest(
                id=work_id(event.originator_id, START_PAYMENT, round_),
                kind=START_PAYMENT,
                aggregate_id=event.originator_id,
                due_at=event.at,
                first_attempt=first_attempt,
                payload=StartPayload(round_, payment_id),
            )
        ]

    async def attempt(self, item: WorkItem[StartPayload]) -> Outcome[RailPayment]:
        reimbursement = await asyncio.to_thread(
            self.application.get_reimbursement, item.aggregate_id
        )
        order = PaymentOrder(
            idempotency_key=str(item.payload.payment_id),
            bank_id=str(reimbursement.bank_id),
            account_id=str(reimbursement.bank_account_id),
            amount=reimbursement.amount,
            currency=reimbursement.currency,
            reference=str(reimbursement.id),
        )
        # Not `outcome_of`: a refused payment is logged too, not only a transient failure.
        try:
            payment = await self.rail.create(order)
        except OutboundError as error:
            log.info(
                "payment start failed",
                extra={
                    "reimbursement_id": str(item.aggregate_id),
                    "attempt": item.attempt,
                    "error": error.detail,
                },
            )
            return classify(error)
        return Succeeded(payment)

    def record(
        self, item: WorkItem[StartPayload], decision: Decision[RailPayment], at: datetime
    ) -> Sequence[Reimbursement]:
        reimbursement = self.application.get_reimbursement(item.aggregate_id)
        round_ = item.payload.round
        match decision:
            case Completed(outcome=Succeeded(result=payment)):
                reimbursement.record_payment_submitted(
                    round_, item.attempt, payment.payment_id, at, actor=WORKER
                )
                _record_final(reimbursement, round_, payment, at)
            case Completed(outcome=PermanentFailure(error=error)):
                # The rail refused the create: no payment exists.
                reimbursement.record_payment_failed(
                    round_, f"refused: {error}", at, definitive=True, actor=WORKER
                )
            case RetryScheduled(error=error, retry_at=retry_at):
                reimbursement.record_payment_attempt_failed(
                    round_, item.attempt, error, at, retry_at, actor=WORKER
                )
            case Parked(error=error):
                # The last create's answer may have been lost: the payment may exist.
                reimbursement.record_payment_failed(
                    round_, f"gave up: {error}", at, definitive=False, actor=WORKER
                )
            case _:
                return []
        return [reimbursement]


class PaymentCheck:
    """Answers the payment once its status is final; `Pending` until then."""

    kind = CHECK_PAYMENT
    payload_type = CheckPayload
    plans_from = (Reimbursement.PaymentSubmitted,)

    def __init__(
        self,
        application: ReimbursementsApplication,
        rail: PaymentRail,
        *,
        poll_interval: timedelta,
        deadline: timedelta,
        retry: RetrySettings,
    ) -> None:
        self.application = application
        self.rail = rail
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.retry = retry

    def plan(self, event: object) -> Sequence[WorkRequest[CheckPayload] | CancelWork]:
        if not isinstance(event, Reimbursement.PaymentSubmitted):
            return []
        return [
            WorkRequest(
                id=work_id(event.originator_id, CHECK_PAYMENT, event.round),
                kind=CHECK_PAYMENT,
                aggregate_id=event.originator_id,
                due_at=event.at + self.poll_interval,
                payload=CheckPayload(event.round, event.rail_payment_id),
                deadline=event.at + self.deadline,
            )
        ]

    async def attempt(self, item: WorkItem[CheckPayload]) -> Outcome[RailPayment]:
        return await outcome_of(
            self.rail.status(item.payload.rail_payment_id),
            self._status,
            retryable=ANY_NOT_REFUSED,
        )

    def _status(self, payment: RailPayment) -> Outcome[RailPayment]:
        if payment.status is RailStatus.PENDING:
            return Pending(check_again_in=self.poll_interval)
        return Succeeded(payment)

    def record(
        self, item: WorkItem[CheckPayload], decision: Decision[RailPayment], at: datetime
    ) -> Sequence[Reimbursement]:
        round_ = item.payload.round
        match decision:
            case Completed(outcome=Succeeded(result=payment)):
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                _record_final(reimbursement, round_, payment, at)
            case Completed(outcome=PermanentFailure(error=error)):
                # The rail would not say: the payment it accepted may still go through.
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                reimbursement.record_payment_failed(
                    round_, f"status refused: {error}", at, definitive=False, actor=WORKER
                )
            case Parked(error=error):
                # No final status in time: failed, so an operator looks at it (and the rail).
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                reimbursement.record_payment_failed(
                    round_, f"no final status: {error}", at, definitive=False, actor=WORKER
                )
            case _:
                # A status call that failed is no news about the payment: not an event.
                return []
        return [reimbursement]


def _record_final(
    reimbursement: Reimbursement, round_: int, payment: RailPayment, at: datetime
) -> None:
    if payment.status == RailStatus.SUCCESS:
        reimbursement.record_payment_succeeded(round_, payment.payment_id, at, actor=WORKER)
    elif payment.status == RailStatus.FAILURE:
        reason = payment.failure_reason or "the payment rail reported FAILURE"
        reimbursement.record_payment_failed(round_, reason, at, definitive=True, actor=WORKER)
