"""The `Invoice` aggregate: its lifecycle rules, and a state machine over every path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.access import Actor
from domain.billing.errors import ChargeNotExpected, InvoiceNotResolvable
from domain.billing.invoice import Invoice, InvoiceStatus, charge_key
from domain.billing.money import period_of
from domain.billing.run import BillingRun, run_id_for
from domain.money import to_amount
from domain.work import OutcomeNotApplicable

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def new_invoice(ref_id: int = 7) -> Invoice:
    return Invoice(
        ref_id=ref_id,
        customer_ref_id=3,
        amount=Decimal("292.97"),
        currency="USD",
        paid=False,
        at=T0,
        actor=ACTOR,
    )


def test_a_run_is_named_by_its_period() -> None:
    run = BillingRun(period="2026-12", trigger="manual", at=T0, actor=ACTOR)
    assert run.id == run_id_for("2026-12") != run_id_for("2027-01")
    run.select([uuid4() for _ in range(2500)], T0, actor=ACTOR)
    run.select([uuid4()], T0, actor=ACTOR)  # a repeated selection is ignored
    assert run.selected == 2500 and run.selection_complete
    assert [type(e).__name__ for e in run.collect_events()].count("InvoicesSelected") == 3


def test_the_first_of_the_month_is_in_utc_unless_configured() -> None:
    moment = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert period_of(moment) == "2026-12"
    assert period_of(moment, "America/New_York") == "2026-11"
    assert to_amount("10.5") == Decimal("10.50")
    with pytest.raises(ValueError, match="YYYY-MM"):
        run_id_for("2026-13")


def test_an_unknown_outcome_leaves_the_attempt_open_until_reconciled() -> None:
    invoice = new_invoice()
    entry = invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    assert entry["key"] == charge_key(7, 1) == "invoice-7-cycle-1"
    assert invoice.open_attempt is entry  # written ahead, no outcome yet
    invoice.record_failure(1, "reset", T0, T0, outcome_known=False, actor=ACTOR)
    assert invoice.open_attempt is not None
    second = invoice.attempt_charge(1, None, T0, previous_not_charged=True, actor=ACTOR)
    assert second["key"] == entry["key"]  # identical across retries of a cycle
    assert invoice.attempts[0]["outcome"] == "not_charged"
    invoice.record_paid(2, "charged", T0, actor=ACTOR)
    assert invoice.status is InvoiceStatus.PAID and invoice.open_attempt is None


def test_nothing_is_charged_or_recorded_after_the_end() -> None:
    invoice = new_invoice()
    invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    invoice.record_paid(1, "charged", T0, actor=ACTOR)
    with pytest.raises(ChargeNotExpected) as raised:
        invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    assert isinstance(raised.value, OutcomeNotApplicable)
    with pytest.raises(InvoiceNotResolvable):
        invoice.resolve("retry", "again", T0, actor=ACTOR)


class InvoiceLifecycle(RuleBasedStateMachine):
    """Any sequence of outcomes and operator actions keeps the invoice's invariants: at
    most one charge, attempt numbers grow, keys name invoice and cycle, and a final
    status accepts no further charge."""

    def __init__(self) -> None:
        super().__init__()
        self.invoice = new_invoice()
        self.now = T0
        self.charged = 0

    def _tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    @rule()
    def attempt(self) -> None:
        invoice = self.invoice
        if invoice.open_attempt is not None:
            return  # the policy reconciles first (the `reconcile` rule)
        retrying = invoice.status is InvoiceStatus.RETRY_SCHEDULED
        cycle = invoice.cycle + 1 if retrying else max(invoice.cycle, 1)
        if not invoice.expects_charge(cycle):
            with pytest.raises(ChargeNotExpected):
                invoice.attempt_charge(
                    cycle, None, self._tick(), previous_not_charged=False, actor=ACTOR
                )
            return
        invoice.attempt_charge(cycle, None, self._tick(), previous_not_charged=False, actor=ACTOR)

    @precondition(lambda self: self.invoice.open_attempt is not None)
    @rule(outcome=st.sampled_from(["charged", "declined", "failed", "unknown", "refused"]))
    def outcome(self, outcome: str) -> None:
        invoice = self.invoice
        attempt = invoice.last_attempt
        at = self._tick()
        if outcome == "charged":
            invoice.record_paid(attempt, "charged", at, actor=ACTOR)
            self.charged += 1
        elif outcome == "declined":
            retry_at = at + timedelta(days=1) if invoice.cycle < 4 else None
            invoice.record_declined(attempt, "insufficient_balance", at, retry_at, actor=ACTOR)
        elif outcome in ("failed", "unknown"):
            invoice.record_failure(
                attempt, outcome, at, at, outcome_known=outcome == "failed", actor=ACTOR
            )
        else:
            invoice.needs_attention(
                attempt, "customer_not_found", "no such customer", at, actor=ACTOR
            )

    @precondition(lambda self: self.invoice.open_attempt is not None)
    @rule(found=st.booleans())
    def reconcile(self, found: bool) -> None:
        invoice = self.invoice
        if found:
            invoice.record_paid(invoice.last_attempt, "reconciled", self._tick(), actor=ACTOR)
            self.charged += 1
        else:
            invoice.attempt_charge(
                invoice.cycle, None, self._tick(), previous_not_charged=True, actor=ACTOR
            )

    @rule(action=st.sampled_from(["mark_paid", "retry", "write_off"]))
    def operator(self, action: str) -> None:
        invoice = self.invoice
        try:
            invoice.resolve(action, "operator note", self._tick(), actor=ACTOR)
        except InvoiceNotResolvable:
            return

    @invariant()
    def attempts_grow_and_keys_name_the_cycle(self) -> None:
        numbers = [a["attempt"] for a in self.invoice.attempts]
        assert numbers == list(range(1, len(numbers) + 1))
        for entry in self.invoice.attempts:
            assert entry["key"] == charge_key(self.invoice.ref_id, entry["cycle"])

    @invariant()
    def charged_at_most_once(self) -> None:
        assert self.charged <= 1
        if self.charged:
            assert self.invoice.status in (InvoiceStatus.PAID,)

    @invariant()
    def at_most_one_attempt_is_unresolved(self) -> None:
        unresolved = [a for a in self.invoice.attempts if a["outcome"] in (None, "unknown")]
        assert len(unresolved) <= 1
        if self.invoice.status is not InvoiceStatus.CHARGING:
            assert self.invoice.open_attempt is None

    @invariant()
    def final_statuses_take_no_charge(self) -> None:
        if self.invoice.status in (
            InvoiceStatus.PAID,
            InvoiceStatus.WRITTEN_OFF,
            InvoiceStatus.UNCOLLECTIBLE,
            InvoiceStatus.NEEDS_ATTENTION,
        ):
            assert not any(self.invoice.expects_charge(c) for c in range(0, 6))


TestInvoiceLifecycle = InvoiceLifecycle.TestCase
