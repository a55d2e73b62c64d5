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
from datetime import datetime, timedelta
from typing import Any

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
    Succeeded,
    WorkItem,
    WorkRequest,
)
from processes.outbound import ANY_NOT_REFUSED, classify, outcome_of, work_id
from processes.reimbursements.application import ReimbursementsApplication

log = logging.getLogger(__name__)

START_PAYMENT = "reimbursements.payment"
CHECK_PAYMENT = "reimbursements.payment_status"


def _answer(payment: RailPayment) -> Succeeded:
    return Succeeded(
        {
            "rail_payment_id": payment.payment_id,
            "status": payment.status.value,
            "failure_reason": payment.failure_reason,
        }
    )


class PaymentStart:
    kind = START_PAYMENT
    plans_from = (Reimbursement.ReimbursementApproved, Reimbursement.PaymentRetryRequested)

    def __init__(self, application: ReimbursementsApplication, rail: PaymentRail) -> None:
        self.application = application
        self.rail = rail

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
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
                payload={"round": round_, "payment_id": str(payment_id)},
            )
        ]

    async def attempt(self, item: WorkItem) -> Outcome:
        reimbursement = await asyncio.to_thread(
            self.application.get_reimbursement, item.aggregate_id
        )
        order = PaymentOrder(
            idempotency_key=str(item.payload["payment_id"]),
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
        return _answer(payment)

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Reimbursement]:
        reimbursement = self.application.get_reimbursement(item.aggregate_id)
        round_ = int(item.payload["round"])
        match decision:
            case Completed(outcome=Succeeded(result=result)):
                rail_id = str(result["rail_payment_id"])
                reimbursement.record_payment_submitted(round_, item.attempt, rail_id, at)
                _record_final(reimbursement, round_, result, at)
            case Completed(outcome=PermanentFailure(error=error)):
                # The rail refused the create: no payment exists.
                reimbursement.record_payment_failed(
                    round_, f"refused: {error}", at, definitive=True
                )
            case RetryScheduled(error=error, retry_at=retry_at):
                reimbursement.record_payment_attempt_failed(
                    round_, item.attempt, error, at, retry_at
                )
            case Parked(error=error):
                # The last create's answer may have been lost: the payment may exist.
                reimbursement.record_payment_failed(
                    round_, f"gave up: {error}", at, definitive=False
                )
            case _:
                return []
        return [reimbursement]


class PaymentCheck:
    kind = CHECK_PAYMENT
    plans_from = (Reimbursement.PaymentSubmitted,)

    def __init__(
        self,
        application: ReimbursementsApplication,
        rail: PaymentRail,
        *,
        poll_interval: timedelta,
        deadline: timedelta,
    ) -> None:
        self.application = application
        self.rail = rail
        self.poll_interval = poll_interval
        self.deadline = deadline

    def plan(self, event: Any) -> Sequence[WorkRequest | CancelWork]:
        if not isinstance(event, Reimbursement.PaymentSubmitted):
            return []
        return [
            WorkRequest(
                id=work_id(event.originator_id, CHECK_PAYMENT, event.round),
                kind=CHECK_PAYMENT,
                aggregate_id=event.originator_id,
                due_at=event.at + self.poll_interval,
                payload={"round": event.round, "rail_payment_id": event.rail_payment_id},
                deadline=event.at + self.deadline,
            )
        ]

    async def attempt(self, item: WorkItem) -> Outcome:
        return await outcome_of(
            self.rail.status(str(item.payload["rail_payment_id"])),
            self._status,
            retryable=ANY_NOT_REFUSED,
        )

    def _status(self, payment: RailPayment) -> Outcome:
        if payment.status is RailStatus.PENDING:
            return Pending(check_again_in=self.poll_interval)
        return _answer(payment)

    def record(self, item: WorkItem, decision: Decision, at: datetime) -> Sequence[Reimbursement]:
        round_ = int(item.payload["round"])
        match decision:
            case Completed(outcome=Succeeded(result=result)):
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                _record_final(reimbursement, round_, result, at)
            case Completed(outcome=PermanentFailure(error=error)):
                # The rail would not say: the payment it accepted may still go through.
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                reimbursement.record_payment_failed(
                    round_, f"status refused: {error}", at, definitive=False
                )
            case Parked(error=error):
                # No final status in time: failed, so an operator looks at it (and the rail).
                reimbursement = self.application.get_reimbursement(item.aggregate_id)
                reimbursement.record_payment_failed(
                    round_, f"no final status: {error}", at, definitive=False
                )
            case _:
                # A status call that failed is no news about the payment: not an event.
                return []
        return [reimbursement]


def _record_final(reimbursement: Reimbursement, round_: int, result: Any, at: datetime) -> None:
    status = result["status"]
    if status == RailStatus.SUCCESS:
        reimbursement.record_payment_succeeded(round_, str(result["rail_payment_id"]), at)
    elif status == RailStatus.FAILURE:
        reason = result.get("failure_reason") or "the payment rail reported FAILURE"
        reimbursement.record_payment_failed(round_, str(reason), at, definitive=True)
