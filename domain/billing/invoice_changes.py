"""What each event of an invoice changes: the rules shared by the `Invoice` aggregate,
which applies them to itself, and the billing read models, which fold them into rows.

One function per event: it takes the event's values and answers an `InvoiceChange`, the
invoice fields the event sets, the charge attempt it opens and the attempt(s) it settles,
with which outcome and detail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, TypedDict
from uuid import UUID


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


UNRESOLVED = frozenset({None, AttemptOutcome.UNKNOWN.value})
"""The outcomes of an attempt that went out and is not settled yet."""

REFUSALS = frozenset({"customer_not_found", "currency_mismatch"})
"""Reasons for attention that are the provider's answer to the attempt: it was refused."""

RECONCILED_NOT_CHARGED = "reconciled: no charge at the provider"
RESOLVED_BY_OPERATOR = "resolved by an operator"


class InvoiceFields(TypedDict, total=False):
    """The invoice fields an event sets; a field left out keeps its value."""

    status: InvoiceStatus
    cycle: int
    round: int
    run_id: UUID
    reason: str | None
    last_error: str | None
    next_charge_at: datetime | None


class OpenedAttempt(NamedTuple):
    """A charge attempt written ahead of the call: its outcome is not known yet."""

    attempt: int
    cycle: int
    key: str
    run_id: UUID | None
    at: datetime


class Settlement(NamedTuple):
    """The outcome and detail an event gives to an attempt."""

    outcome: AttemptOutcome
    detail: str
    attempt: int | None = None
    """The attempt settled; None: every attempt still unresolved (an operator decided)."""
    finished_at: datetime | None = None
    """When the provider's answer arrived; None: settled without one."""

    def applies_to(self, attempt: int, outcome: str | None) -> bool:
        if self.attempt is None:
            return outcome in UNRESOLVED
        return attempt == self.attempt


class InvoiceChange(NamedTuple):
    fields: InvoiceFields
    settles: Settlement | None = None
    """Applied before `opens`."""
    opens: OpenedAttempt | None = None


_BY_OPERATOR = Settlement(AttemptOutcome.NOT_CHARGED, RESOLVED_BY_OPERATOR)


def issued_status(paid: bool) -> InvoiceStatus:
    """The status of a newly issued invoice (the data set may issue it already paid)."""
    return InvoiceStatus.PAID if paid else InvoiceStatus.PENDING


def charge_attempted(
    attempt: int,
    cycle: int,
    key: str,
    run_id: UUID | None,
    at: datetime,
    previous_not_charged: bool,
) -> InvoiceChange:
    fields: InvoiceFields = {
        "status": InvoiceStatus.CHARGING,
        "cycle": cycle,
        "next_charge_at": None,
    }
    if run_id is not None:  # a charge outside a run keeps the run the invoice was in
        fields["run_id"] = run_id
    settles = None
    if previous_not_charged and attempt > 1:
        settles = Settlement(AttemptOutcome.NOT_CHARGED, RECONCILED_NOT_CHARGED, attempt - 1)
    return InvoiceChange(fields, settles, OpenedAttempt(attempt, cycle, key, run_id, at))


def invoice_paid(attempt: int, how: str, at: datetime) -> InvoiceChange:
    """`how`: "charged", or "reconciled" (found by key after an unknown outcome)."""
    return InvoiceChange(
        {"status": InvoiceStatus.PAID, "reason": None, "next_charge_at": None},
        Settlement(AttemptOutcome.CHARGED, how, attempt, at),
    )


def charge_declined(
    attempt: int, reason: str, at: datetime, retry_at: datetime | None
) -> InvoiceChange:
    """`retry_at` None: that was the last dunning cycle, the invoice is uncollectible."""
    status = InvoiceStatus.RETRY_SCHEDULED if retry_at else InvoiceStatus.UNCOLLECTIBLE
    return InvoiceChange(
        {"status": status, "reason": reason, "next_charge_at": retry_at},
        Settlement(AttemptOutcome.DECLINED, reason, attempt, at),
    )


def charge_failed(
    attempt: int, error: str, outcome_known: bool, at: datetime, retry_at: datetime
) -> InvoiceChange:
    """`outcome_known` False: the charge may have happened (reconcile before the next)."""
    outcome = AttemptOutcome.FAILED if outcome_known else AttemptOutcome.UNKNOWN
    return InvoiceChange(
        {"last_error": error, "next_charge_at": retry_at},
        Settlement(outcome, error, attempt, at),
    )


def charge_needs_attention(
    attempt: int | None, reason: str, detail: str, at: datetime
) -> InvoiceChange:
    settles = None
    if attempt is not None and reason in REFUSALS:
        settles = Settlement(AttemptOutcome.REFUSED, detail, attempt, at)
    return InvoiceChange(
        {
            "status": InvoiceStatus.NEEDS_ATTENTION,
            "reason": reason,
            "last_error": detail,
            "next_charge_at": None,
        },
        settles,
    )


# An operator's decision settles what no answer settled: nothing more will be asked.


def invoice_marked_paid(note: str) -> InvoiceChange:
    return InvoiceChange(
        {"status": InvoiceStatus.PAID, "reason": f"marked paid: {note}", "next_charge_at": None},
        _BY_OPERATOR,
    )


def charge_retry_requested(cycle: int, round: int, at: datetime) -> InvoiceChange:
    return InvoiceChange(
        {
            "status": InvoiceStatus.CHARGING,
            "cycle": cycle,
            "round": round,
            "reason": None,
            "next_charge_at": at,
        },
        _BY_OPERATOR,
    )


def invoice_written_off(note: str) -> InvoiceChange:
    return InvoiceChange(
        {
            "status": InvoiceStatus.WRITTEN_OFF,
            "reason": f"written off: {note}",
            "next_charge_at": None,
        },
        _BY_OPERATOR,
    )
