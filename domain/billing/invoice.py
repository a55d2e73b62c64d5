"""The `Invoice` aggregate: one reference invoice and every attempt to charge it.

Lifecycle:

    pending -> charging -> paid
                       -> retry_scheduled -> charging ...   (declined: dunning)
                       -> uncollectible                      (declined on the last cycle)
                       -> needs_attention                    (refused, or outcome unknown)
    needs_attention | uncollectible -> charging              (operator: retry)
    needs_attention | uncollectible | retry_scheduled -> paid | written_off (operator)

`ChargeAttempted` is written BEFORE the provider is called (write-ahead, with optimistic
concurrency on the aggregate's version): of two workers racing for the same invoice only
one can append it, and an attempt without a recorded outcome is known to be unresolved,
so it is reconciled (asked by key) before anything is charged again. The idempotency key
names the invoice and its dunning cycle; the attempt number is recorded beside it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.billing.customer import BILLING_NAMESPACE
from domain.billing.errors import ChargeNotExpected, InvoiceNotResolvable


class InvoiceStatus(StrEnum):
    PENDING = "pending"
    CHARGING = "charging"
    PAID = "paid"
    RETRY_SCHEDULED = "retry_scheduled"
    UNCOLLECTIBLE = "uncollectible"
    NEEDS_ATTENTION = "needs_attention"
    WRITTEN_OFF = "written_off"


class AttemptOutcome(StrEnum):
    CHARGED = "charged"
    DECLINED = "declined"
    REFUSED = "refused"  # customer not found, currency mismatch
    FAILED = "failed"  # certainly not charged (5xx, no connection)
    UNKNOWN = "unknown"  # may have been charged: reconcile before charging again
    NOT_CHARGED = "not_charged"  # an unknown outcome, reconciled: the provider has no charge


RESOLVABLE = {
    "mark_paid": frozenset(
        {InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.RETRY_SCHEDULED}
    ),
    "write_off": frozenset(
        {InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.RETRY_SCHEDULED}
    ),
    "retry": frozenset({InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE}),
}
UNRESOLVED = frozenset({None, AttemptOutcome.UNKNOWN.value})


def invoice_id_for(ref_id: int) -> UUID:
    return uuid5(BILLING_NAMESPACE, f"invoice:{ref_id}")


def charge_key(ref_id: int, cycle: int) -> str:
    """The idempotency key: the invoice and its dunning cycle, identical across retries."""
    return f"invoice-{ref_id}-cycle-{cycle}"


class Invoice(Aggregate):
    class InvoiceIssued(Aggregate.Created):
        ref_id: int
        customer_ref_id: int
        amount: Decimal
        currency: str
        paid: bool
        at: datetime

    class ChargeAttempted(Aggregate.Event):
        attempt: int
        cycle: int
        key: str
        run_id: UUID | None
        at: datetime
        previous_not_charged: bool  # the last unknown outcome was reconciled: no charge

    class InvoicePaid(Aggregate.Event):
        attempt: int
        cycle: int
        key: str
        how: str  # "charged", or "reconciled" (found by key after an unknown outcome)
        at: datetime

    class ChargeDeclined(Aggregate.Event):
        attempt: int
        cycle: int
        reason: str
        at: datetime
        retry_at: datetime | None  # None: the last dunning cycle, the invoice is uncollectible

    class ChargeFailed(Aggregate.Event):
        attempt: int
        cycle: int
        error: str
        outcome_known: bool  # False: the charge may have happened (reconcile first)
        at: datetime
        retry_at: datetime

    class ChargeNeedsAttention(Aggregate.Event):
        attempt: int | None
        cycle: int
        reason: str  # customer_not_found, currency_mismatch, outcome_unknown, gave_up
        detail: str
        at: datetime

    class InvoiceMarkedPaid(Aggregate.Event):
        note: str
        at: datetime

    class ChargeRetryRequested(Aggregate.Event):
        note: str
        cycle: int
        round: int
        at: datetime

    class InvoiceWrittenOff(Aggregate.Event):
        note: str
        at: datetime

    @staticmethod
    def create_id(ref_id: int, **_: object) -> UUID:
        return invoice_id_for(ref_id)

    @event(InvoiceIssued)
    def __init__(
        self,
        ref_id: int,
        customer_ref_id: int,
        amount: Decimal,
        currency: str,
        paid: bool,
        at: datetime,
    ) -> None:
        self.ref_id = ref_id
        self.customer_ref_id = customer_ref_id
        self.amount = amount
        self.currency = currency
        self.status = InvoiceStatus.PAID if paid else InvoiceStatus.PENDING
        self.issued_at = at
        self.cycle = 0
        self.round = 1
        self.run_id: UUID | None = None
        self.attempts: list[dict[str, Any]] = []
        self.reason: str | None = None
        self.next_charge_at: datetime | None = None
        self.updated_at = at

    # Queries ----------------------------------------------------------------------------

    def expects_charge(self, cycle: int) -> bool:
        if self.status is InvoiceStatus.PENDING:
            return cycle == 1 and self.cycle == 0
        if self.status is InvoiceStatus.CHARGING:
            return cycle == self.cycle
        if self.status is InvoiceStatus.RETRY_SCHEDULED:
            return cycle == self.cycle + 1
        return False

    @property
    def open_attempt(self) -> dict[str, Any] | None:
        """The last attempt, when it went out and its outcome is not known."""
        if self.status is not InvoiceStatus.CHARGING or not self.attempts:
            return None
        last = self.attempts[-1]
        return last if last["outcome"] in UNRESOLVED and last["cycle"] == self.cycle else None

    @property
    def last_attempt(self) -> int:
        return len(self.attempts)

    # Commands ---------------------------------------------------------------------------

    def attempt_charge(
        self, cycle: int, run_id: UUID | None, at: datetime, *, previous_not_charged: bool
    ) -> dict[str, Any]:
        """Write-ahead: record that a charge is about to go out; answers the attempt."""
        self.check_charge_expected(cycle)
        self._attempted(
            attempt=self.last_attempt + 1,
            cycle=cycle,
            key=charge_key(self.ref_id, cycle),
            run_id=run_id,
            at=at,
            previous_not_charged=previous_not_charged,
        )
        return self.attempts[-1]

    def record_paid(self, attempt: int, how: str, at: datetime) -> None:
        self.check_charging()
        self._paid(
            attempt=attempt,
            cycle=self.cycle,
            key=charge_key(self.ref_id, self.cycle),
            how=how,
            at=at,
        )

    def record_declined(
        self, attempt: int, reason: str, at: datetime, retry_at: datetime | None
    ) -> None:
        self.check_charging()
        self._declined(attempt=attempt, cycle=self.cycle, reason=reason, at=at, retry_at=retry_at)

    def record_failure(
        self, attempt: int, error: str, at: datetime, retry_at: datetime, *, outcome_known: bool
    ) -> None:
        self.check_charging()
        self._failed(
            attempt=attempt,
            cycle=self.cycle,
            error=error,
            outcome_known=outcome_known,
            at=at,
            retry_at=retry_at,
        )

    def needs_attention(self, attempt: int | None, reason: str, detail: str, at: datetime) -> None:
        if self.status not in (InvoiceStatus.CHARGING, InvoiceStatus.PENDING):
            raise ChargeNotExpected(self.status.value)
        self._needs_attention(
            attempt=attempt, cycle=self.cycle, reason=reason, detail=detail, at=at
        )

    def resolve(self, action: str, note: str, at: datetime) -> None:
        if self.status not in RESOLVABLE[action]:
            raise InvoiceNotResolvable(action.replace("_", " "), self.status.value)
        if action == "mark_paid":
            self._marked_paid(note=note, at=at)
        elif action == "write_off":
            self._written_off(note=note, at=at)
        else:
            self._retry_requested(note=note, cycle=max(self.cycle, 1), round=self.round + 1, at=at)

    # Guards -----------------------------------------------------------------------------

    def check_charge_expected(self, cycle: int) -> None:
        if not self.expects_charge(cycle):
            raise ChargeNotExpected(self.status.value, f"(cycle {cycle})")

    def check_charging(self) -> None:
        if self.status is not InvoiceStatus.CHARGING:
            raise ChargeNotExpected(self.status.value)

    # Events (mutation only) -------------------------------------------------------------

    def _close_attempt(self, attempt: int, outcome: AttemptOutcome, detail: str | None) -> None:
        for entry in self.attempts:
            if entry["attempt"] == attempt:
                entry["outcome"] = outcome.value
                entry["detail"] = detail

    @event(ChargeAttempted)
    def _attempted(
        self,
        attempt: int,
        cycle: int,
        key: str,
        run_id: UUID | None,
        at: datetime,
        previous_not_charged: bool,
    ) -> None:
        if previous_not_charged and self.attempts:
            self.attempts[-1]["outcome"] = AttemptOutcome.NOT_CHARGED.value
        self.attempts.append(
            {"attempt": attempt, "cycle": cycle, "key": key, "at": at, "outcome": None}
        )
        self.attempts[-1]["detail"] = None
        self.status = InvoiceStatus.CHARGING
        self.cycle = cycle
        self.run_id = run_id or self.run_id
        self.next_charge_at = None
        self.updated_at = at

    @event(InvoicePaid)
    def _paid(self, attempt: int, cycle: int, key: str, how: str, at: datetime) -> None:
        self._close_attempt(attempt, AttemptOutcome.CHARGED, how)
        self.status = InvoiceStatus.PAID
        self.reason = None
        self.updated_at = at

    @event(ChargeDeclined)
    def _declined(
        self, attempt: int, cycle: int, reason: str, at: datetime, retry_at: datetime | None
    ) -> None:
        self._close_attempt(attempt, AttemptOutcome.DECLINED, reason)
        self.status = InvoiceStatus.RETRY_SCHEDULED if retry_at else InvoiceStatus.UNCOLLECTIBLE
        self.reason = reason
        self.next_charge_at = retry_at
        self.updated_at = at

    @event(ChargeFailed)
    def _failed(
        self,
        attempt: int,
        cycle: int,
        error: str,
        outcome_known: bool,
        at: datetime,
        retry_at: datetime,
    ) -> None:
        outcome = AttemptOutcome.FAILED if outcome_known else AttemptOutcome.UNKNOWN
        self._close_attempt(attempt, outcome, error)
        self.next_charge_at = retry_at
        self.updated_at = at

    @event(ChargeNeedsAttention)
    def _needs_attention(
        self, attempt: int | None, cycle: int, reason: str, detail: str, at: datetime
    ) -> None:
        if attempt is not None and reason in ("customer_not_found", "currency_mismatch"):
            self._close_attempt(attempt, AttemptOutcome.REFUSED, detail)
        self.status = InvoiceStatus.NEEDS_ATTENTION
        self.reason = reason
        self.next_charge_at = None
        self.updated_at = at

    def _settle_open_attempt(self) -> None:
        """An operator decided: an unresolved attempt is resolved by that decision."""
        if self.attempts and self.attempts[-1]["outcome"] in UNRESOLVED:
            self.attempts[-1]["outcome"] = AttemptOutcome.NOT_CHARGED.value
            self.attempts[-1]["detail"] = "resolved by an operator"

    @event(InvoiceMarkedPaid)
    def _marked_paid(self, note: str, at: datetime) -> None:
        self._settle_open_attempt()
        self.status = InvoiceStatus.PAID
        self.reason = f"marked paid: {note}"
        self.next_charge_at = None
        self.updated_at = at

    @event(ChargeRetryRequested)
    def _retry_requested(self, note: str, cycle: int, round: int, at: datetime) -> None:
        self._settle_open_attempt()
        self.status = InvoiceStatus.CHARGING
        self.cycle = cycle
        self.round = round
        self.reason = None
        self.next_charge_at = at
        self.updated_at = at

    @event(InvoiceWrittenOff)
    def _written_off(self, note: str, at: datetime) -> None:
        self._settle_open_attempt()
        self.status = InvoiceStatus.WRITTEN_OFF
        self.reason = f"written off: {note}"
        self.next_charge_at = None
        self.updated_at = at
