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

What each event changes (status, fields, the attempt it opens or settles) is decided in
`domain.billing.invoice_changes`, the rules the billing read models fold by too
(`invoice_change` answers them for a stored event).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor
from domain.actors import RecordsActor
from domain.billing.customer import BILLING_NAMESPACE
from domain.billing.errors import ChargeNotExpected, InvoiceNotResolvable
from domain.billing.invoice_changes import (
    UNRESOLVED,
    AttemptOutcome,
    InvoiceChange,
    InvoiceStatus,
    charge_attempted,
    charge_declined,
    charge_failed,
    charge_needs_attention,
    charge_retry_requested,
    invoice_marked_paid,
    invoice_paid,
    invoice_written_off,
    issued_status,
)

__all__ = [
    "RESOLVABLE",
    "UNRESOLVED",
    "AttemptOutcome",
    "Invoice",
    "InvoiceStatus",
    "charge_key",
    "invoice_change",
    "invoice_id_for",
]

RESOLVABLE = {
    "mark_paid": frozenset(
        {InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.RETRY_SCHEDULED}
    ),
    "write_off": frozenset(
        {InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.RETRY_SCHEDULED}
    ),
    "retry": frozenset({InvoiceStatus.NEEDS_ATTENTION, InvoiceStatus.UNCOLLECTIBLE}),
}


def invoice_id_for(ref_id: int) -> UUID:
    return uuid5(BILLING_NAMESPACE, f"invoice:{ref_id}")


def charge_key(ref_id: int, cycle: int) -> str:
    """The idempotency key: the invoice and its dunning cycle, identical across retries."""
    return f"invoice-{ref_id}-cycle-{cycle}"


class Invoice(Aggregate):
    class InvoiceIssued(RecordsActor, Aggregate.Created):
        ref_id: int
        customer_ref_id: int
        amount: Decimal
        currency: str
        paid: bool
        at: datetime
        actor: Actor

    class ChargeAttempted(RecordsActor, Aggregate.Event):
        attempt: int
        cycle: int
        key: str
        run_id: UUID | None
        at: datetime
        previous_not_charged: bool  # the last unknown outcome was reconciled: no charge
        actor: Actor

    class InvoicePaid(RecordsActor, Aggregate.Event):
        attempt: int
        cycle: int
        key: str
        how: str  # "charged", or "reconciled" (found by key after an unknown outcome)
        at: datetime
        actor: Actor

    class ChargeDeclined(RecordsActor, Aggregate.Event):
        attempt: int
        cycle: int
        reason: str
        at: datetime
        retry_at: datetime | None  # None: the last dunning cycle, the invoice is uncollectible
        actor: Actor

    class ChargeFailed(RecordsActor, Aggregate.Event):
        attempt: int
        cycle: int
        error: str
        outcome_known: bool  # False: the charge may have happened (reconcile first)
        at: datetime
        retry_at: datetime
        actor: Actor

    class ChargeNeedsAttention(RecordsActor, Aggregate.Event):
        attempt: int | None
        cycle: int
        reason: str  # customer_not_found, currency_mismatch, outcome_unknown, gave_up
        detail: str
        at: datetime
        actor: Actor

    class InvoiceMarkedPaid(RecordsActor, Aggregate.Event):
        note: str
        at: datetime
        actor: Actor

    class ChargeRetryRequested(RecordsActor, Aggregate.Event):
        note: str
        cycle: int
        round: int
        at: datetime
        actor: Actor

    class InvoiceWrittenOff(RecordsActor, Aggregate.Event):
        note: str
        at: datetime
        actor: Actor

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
        actor: Actor,
    ) -> None:
        self.ref_id = ref_id
        self.customer_ref_id = customer_ref_id
        self.amount = amount
        self.currency = currency
        self.status = issued_status(paid)
        self.issued_at = at
        self.cycle = 0
        self.round = 1
        self.run_id: UUID | None = None
        self.attempts: list[dict[str, Any]] = []
        self.reason: str | None = None
        self.last_error: str | None = None
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
        self,
        cycle: int,
        run_id: UUID | None,
        at: datetime,
        *,
        previous_not_charged: bool,
        actor: Actor,
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
            actor=actor,
        )
        return self.attempts[-1]

    def record_paid(self, attempt: int, how: str, at: datetime, *, actor: Actor) -> None:
        self.check_charging()
        self._paid(
            attempt=attempt,
            cycle=self.cycle,
            key=charge_key(self.ref_id, self.cycle),
            how=how,
            at=at,
            actor=actor,
        )

    def record_declined(
        self, attempt: int, reason: str, at: datetime, retry_at: datetime | None, *, actor: Actor
    ) -> None:
        self.check_charging()
        self._declined(
            attempt=attempt,
            cycle=self.cycle,
            reason=reason,
            at=at,
            retry_at=retry_at,
            actor=actor,
        )

    def record_failure(
        self,
        attempt: int,
        error: str,
        at: datetime,
        retry_at: datetime,
        *,
        outcome_known: bool,
        actor: Actor,
    ) -> None:
        self.check_charging()
        self._failed(
            attempt=attempt,
            cycle=self.cycle,
            error=error,
            outcome_known=outcome_known,
            at=at,
            retry_at=retry_at,
            actor=actor,
        )

    def needs_attention(
        self, attempt: int | None, reason: str, detail: str, at: datetime, *, actor: Actor
    ) -> None:
        if self.status not in (InvoiceStatus.CHARGING, InvoiceStatus.PENDING):
            raise ChargeNotExpected(self.status.value)
        self._needs_attention(
            attempt=attempt, cycle=self.cycle, reason=reason, detail=detail, at=at, actor=actor
        )

    def resolve(self, action: str, note: str, at: datetime, *, actor: Actor) -> None:
        if self.status not in RESOLVABLE[action]:
            raise InvoiceNotResolvable(action.replace("_", " "), self.status.value)
        if action == "mark_paid":
            self._marked_paid(note=note, at=at, actor=actor)
        elif action == "write_off":
            self._written_off(note=note, at=at, actor=actor)
        else:
            self._retry_requested(
                note=note, cycle=max(self.cycle, 1), round=self.round + 1, at=at, actor=actor
            )

    # Guards -----------------------------------------------------------------------------

    def check_charge_expected(self, cycle: int) -> None:
        if not self.expects_charge(cycle):
            raise ChargeNotExpected(self.status.value, f"(cycle {cycle})")

    def check_charging(self) -> None:
        if self.status is not InvoiceStatus.CHARGING:
            raise ChargeNotExpected(self.status.value)

    # Events (mutation only: each applies the change its rule answers) -------------------

    def _apply(self, change: InvoiceChange, at: datetime) -> None:
        settlement = change.settles
        if settlement is not None:
            for entry in self.attempts:
                if settlement.applies_to(entry["attempt"], entry["outcome"]):
                    entry["outcome"] = settlement.outcome.value
                    entry["detail"] = settlement.detail
        opened = change.opens
        if opened is not None:
            self.attempts.append(
                {
                    "attempt": opened.attempt,
                    "cycle": opened.cycle,
                    "key": opened.key,
                    "at": opened.at,
                    "outcome": None,
                    "detail": None,
                }
            )
        vars(self).update(change.fields)  # the fields are named as the attributes
        self.updated_at = at

    @event(ChargeAttempted)
    def _attempted(
        self,
        attempt: int,
        cycle: int,
        key: str,
        run_id: UUID | None,
        at: datetime,
        previous_not_charged: bool,
        actor: Actor,
    ) -> None:
        self._apply(charge_attempted(attempt, cycle, key, run_id, at, previous_not_charged), at)

    @event(InvoicePaid)
    def _paid(
        self, attempt: int, cycle: int, key: str, how: str, at: datetime, actor: Actor
    ) -> None:
        self._apply(invoice_paid(attempt, how, at), at)

    @event(ChargeDeclined)
    def _declined(
        self,
        attempt: int,
        cycle: int,
        reason: str,
        at: datetime,
        retry_at: datetime | None,
        actor: Actor,
    ) -> None:
        self._apply(charge_declined(attempt, reason, at, retry_at), at)

    @event(ChargeFailed)
    def _failed(
        self,
        attempt: int,
        cycle: int,
        error: str,
        outcome_known: bool,
        at: datetime,
        retry_at: datetime,
        actor: Actor,
    ) -> None:
        self._apply(charge_failed(attempt, error, outcome_known, at, retry_at), at)

    @event(ChargeNeedsAttention)
    def _needs_attention(
        self,
        attempt: int | None,
        cycle: int,
        reason: str,
        detail: str,
        at: datetime,
        actor: Actor,
    ) -> None:
        self._apply(charge_needs_attention(attempt, reason, detail, at), at)

    @event(InvoiceMarkedPaid)
    def _marked_paid(self, note: str, at: datetime, actor: Actor) -> None:
        self._apply(invoice_marked_paid(note), at)

    @event(ChargeRetryRequested)
    def _retry_requested(
        self, note: str, cycle: int, round: int, at: datetime, actor: Actor
    ) -> None:
        self._apply(charge_retry_requested(cycle, round, at), at)

    @event(InvoiceWrittenOff)
    def _written_off(self, note: str, at: datetime, actor: Actor) -> None:
        self._apply(invoice_written_off(note), at)


def invoice_change(event: object) -> InvoiceChange | None:
    """What a stored event of an invoice changes, by the aggregate's own rules (None: an
    event that is not an invoice's, or the one that issues it)."""
    match event:
        case Invoice.ChargeAttempted():
            return charge_attempted(
                event.attempt,
                event.cycle,
                event.key,
                event.run_id,
                event.at,
                event.previous_not_charged,
            )
        case Invoice.InvoicePaid():
            return invoice_paid(event.attempt, event.how, event.at)
        case Invoice.ChargeDeclined():
            return charge_declined(event.attempt, event.reason, event.at, event.retry_at)
        case Invoice.ChargeFailed():
            return charge_failed(
                event.attempt, event.error, event.outcome_known, event.at, event.retry_at
            )
        case Invoice.ChargeNeedsAttention():
            return charge_needs_attention(event.attempt, event.reason, event.detail, event.at)
        case Invoice.InvoiceMarkedPaid():
            return invoice_marked_paid(event.note)
        case Invoice.ChargeRetryRequested():
            return charge_retry_requested(event.cycle, event.round, event.at)
        case Invoice.InvoiceWrittenOff():
            return invoice_written_off(event.note)
    return None
