"""Invoices driven through any sequence of the aggregate's commands: the usual paths, and
ones no policy takes but the aggregate accepts (an attempt without reconciling first, an
outcome for an earlier attempt, an operator's decision at any point)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.access import Actor
from domain.billing.errors import ChargeNotExpected, InvoiceNotResolvable
from domain.billing.invoice import Invoice, InvoiceStatus

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ACTIONS = (
    "attempt",
    "attempt_after_no_charge",
    "charged",
    "reconciled",
    "declined",
    "declined_last_cycle",
    "failed",
    "unknown",
    "refused",
    "attention",
    "mark_paid",
    "retry",
    "write_off",
)
RUNS = (None, UUID(int=1), UUID(int=2))

Step = tuple[str, int]
"""An action of `ACTIONS` and a small number choosing among its variants."""


def new_invoice(ref_id: int, *, paid: bool = False) -> Invoice:
    return Invoice(
        ref_id=ref_id,
        customer_ref_id=ref_id % 7,
        amount=Decimal("292.97"),
        currency="USD",
        paid=paid,
        at=T0,
        actor=ACTOR,
    )


def apply_step(invoice: Invoice, step: Step, at: datetime) -> None:
    """Drive `invoice` by one command; a command it refuses changes nothing."""
    action, n = step
    attempt = invoice.last_attempt if n % 4 else max(invoice.last_attempt - 1, 1)
    retry_at = at + timedelta(days=1)
    try:
        if action in ("attempt", "attempt_after_no_charge"):
            retrying = invoice.status is InvoiceStatus.RETRY_SCHEDULED
            cycle = invoice.cycle + 1 if retrying else max(invoice.cycle, 1)
            if n % 5 == 4:
                cycle += 1  # now and then a cycle it does not expect
            invoice.attempt_charge(
                cycle,
                RUNS[n % 3],
                at,
                previous_not_charged=action == "attempt_after_no_charge",
                actor=ACTOR,
            )
        elif action in ("charged", "reconciled"):
            invoice.record_paid(attempt, action, at, actor=ACTOR)
        elif action in ("declined", "declined_last_cycle"):
            last = action == "declined_last_cycle"
            invoice.record_declined(
                attempt, "insufficient_balance", at, None if last else retry_at, actor=ACTOR
            )
        elif action in ("failed", "unknown"):
            known = action == "failed"
            invoice.record_failure(
                attempt, f"{action} {n}", at, retry_at, outcome_known=known, actor=ACTOR
            )
        elif action == "refused":
            reason = ("customer_not_found", "currency_mismatch", "refused")[n % 3]
            invoice.needs_attention(attempt, reason, f"refused {n}", at, actor=ACTOR)
        elif action == "attention":
            invoice.needs_attention(
                None if n % 2 else attempt, "outcome_unknown", f"asked {n}", at, actor=ACTOR
            )
        else:
            invoice.resolve(action, f"note {n}", at, actor=ACTOR)
    except (ChargeNotExpected, InvoiceNotResolvable):
        pass
