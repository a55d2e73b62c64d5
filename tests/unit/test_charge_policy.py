"""The charge process manager with a hand-written fake of the payment provider and the
library's in-memory event store: what each event plans, how each answer of the provider
is classified (reconciling by key first when an attempt's outcome is unknown), and what
`record` writes for each decision, on the invoice the attempt loaded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from domain.access import Actor
from domain.billing.invoice import Invoice, InvoiceStatus
from domain.billing.ports import (
    ChargeRequest,
    LookupNotSupported,
    ProviderCurrencyMismatch,
    ProviderCustomerNotFound,
)
from domain.billing.run import BillingRun
from domain.clock import ManualClock
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import (
    CancelWork,
    Completed,
    Obsolete,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkItem,
    WorkRequest,
)
from processes.billing.application import BillingApplication
from processes.billing.charging import (
    CHARGE,
    Charged,
    ChargeFailed,
    ChargePayload,
    ChargePolicy,
    ChargeRaceLost,
    Declined,
    LookupFailed,
    NeedsAttention,
    charge_work_id,
)

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DUNNING = [timedelta(days=1), timedelta(days=3)]
RETRY = RetrySettings(budget=timedelta(minutes=2))


class FakeProvider:
    """Answers each call with the next scripted answer (True: charged / found)."""

    def __init__(self) -> None:
        self.charges: list[bool | Exception] = []
        self.lookups: list[bool | Exception] = []
        self.charged: list[ChargeRequest] = []
        self.asked: list[str] = []

    async def charge(self, request: ChargeRequest) -> bool:
        self.charged.append(request)
        return _answer(self.charges.pop(0) if self.charges else True)

    async def find_charge(self, idempotency_key: str) -> bool:
        self.asked.append(idempotency_key)
        return _answer(self.lookups.pop(0) if self.lookups else False)


def _answer(answer: bool | Exception) -> bool:
    if isinstance(answer, Exception):
        raise answer
    return answer


class CountingApplication(BillingApplication):
    """Counts the invoices `record` reads (it should read none after an attempt)."""

    reads = 0

    def get_invoice(self, invoice_id: UUID) -> Invoice:
        self.reads += 1
        return super().get_invoice(invoice_id)


class Billing:
    """The policy on an in-memory store, with the store's reads and writes counted."""

    def __init__(self) -> None:
        self.app = CountingApplication()
        self.provider = FakeProvider()
        self.loads = 0
        self.writes = 0
        self.policy = ChargePolicy(
            self.app, self.provider, self._save, self._load, ManualClock(T0), DUNNING, RETRY
        )

    async def _save(self, invoice: Invoice) -> None:
        self.writes += 1
        self.app.save(invoice)

    async def _load(self, invoice_id: UUID) -> Aggregate:
        self.loads += 1
        invoice: Aggregate = self.app.repository.get(invoice_id)
        return invoice

    def invoice(self, ref_id: int = 1, *, paid: bool = False) -> Invoice:
        invoice = Invoice(
            ref_id=ref_id,
            customer_ref_id=7,
            amount=Decimal("12.50"),
            currency="EUR",
            paid=paid,
            at=T0,
            actor=ACTOR,
        )
        self.app.save(invoice)
        return invoice

    def attempt(self, invoice: Invoice, number: int = 1, cycle: int = 1) -> Any:
        return asyncio.run(self.policy.attempt(item(invoice.id, number, cycle)))

    def record(self, invoice: Invoice, decision: Any, number: int = 1, cycle: int = 1) -> Invoice:
        [recorded] = self.policy.record(item(invoice.id, number, cycle), decision, T0)
        self.app.save(recorded)
        return self.app.repository.get(invoice.id)  # type: ignore[no-any-return]

    def history(self, invoice: Invoice) -> list[str]:
        return [type(e).__name__ for e in self.app.events.get(invoice.id)]


def item(invoice_id: UUID, attempt: int = 1, cycle: int = 1) -> WorkItem[ChargePayload]:
    return WorkItem(
        id=charge_work_id(invoice_id, cycle, 1),
        kind=CHARGE,
        aggregate_id=invoice_id,
        attempt=attempt,
        payload=ChargePayload(cycle, None),
        first_due_at=T0,
    )


@pytest.fixture()
def billing() -> Billing:
    return Billing()


# Planning ---------------------------------------------------------------------------------


def test_a_selection_plans_one_charge_per_invoice_and_a_repeat_plans_the_same(
    billing: Billing,
) -> None:
    run = BillingRun(period="2026-12", trigger="manual", at=T0, actor=ACTOR)
    ids = [uuid.uuid4(), uuid.uuid4()]
    run.select(ids, T0, actor=ACTOR)
    selected = next(e for e in run.collect_events() if isinstance(e, BillingRun.InvoicesSelected))
    requests = billing.policy.plan(selected)
    assert requests == [
        WorkRequest(
            id=charge_work_id(invoice_id, 1, 1),
            kind=CHARGE,
            aggregate_id=invoice_id,
            due_at=T0,
            payload=ChargePayload(cycle=1, run_id=run.id),
        )
        for invoice_id in ids
    ]
    assert billing.policy.plan(selected) == requests


def test_a_decline_plans_the_next_cycle_at_its_dunning_date_and_the_last_plans_nothing(
    billing: Billing,
) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [False]
    outcome = billing.attempt(invoice)
    declined = billing.record(invoice, Completed(outcome))
    event = list(billing.app.events.get(invoice.id))[-1]
    assert isinstance(event, Invoice.ChargeDeclined) and declined.cycle == 1
    [request] = billing.policy.plan(event)
    assert isinstance(request, WorkRequest)
    assert request.payload == ChargePayload(cycle=2) and request.due_at == T0 + DUNNING[0]
    last = Invoice.ChargeDeclined(
        originator_id=invoice.id,
        originator_version=9,
        timestamp=T0,
        attempt=3,
        cycle=3,
        reason="insufficient_balance",
        at=T0,
        retry_at=None,
        actor=ACTOR,
    )
    assert billing.policy.plan(last) == []


def test_an_operators_retry_plans_its_round_and_a_resolution_cancels_the_charge(
    billing: Billing,
) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [ProviderCustomerNotFound("no such customer")]
    attention = billing.record(invoice, Completed(billing.attempt(invoice)))
    attention.resolve("retry", "customer fixed", T0, actor=ACTOR)
    [retried] = attention.collect_events()
    [request] = billing.policy.plan(retried)
    assert isinstance(request, WorkRequest)
    assert request.id == charge_work_id(invoice.id, 1, 2) and request.payload.cycle == 1
    marked = Invoice.InvoiceMarkedPaid(
        originator_id=invoice.id,
        originator_version=5,
        timestamp=T0,
        note="paid",
        at=T0,
        actor=ACTOR,
    )
    assert billing.policy.plan(marked) == [CancelWork(aggregate_id=invoice.id, kind=CHARGE)]


# One attempt, and what is recorded --------------------------------------------------------


def test_a_charge_costs_one_read_and_two_writes_and_records_paid(billing: Billing) -> None:
    invoice = billing.invoice()
    outcome = billing.attempt(invoice)
    assert isinstance(outcome, Succeeded) and isinstance(outcome.result, Charged)
    assert (outcome.result.attempt, outcome.result.how) == (1, "charged")
    [request] = billing.provider.charged
    assert request.idempotency_key == "invoice-1-cycle-1" and request.amount == Decimal("12.50")
    assert billing.history(invoice) == ["InvoiceIssued", "ChargeAttempted"]  # written ahead
    [recorded] = billing.policy.record(item(invoice.id), Completed(outcome), T0)
    assert recorded is outcome.result.attempted.invoice  # the attempt's copy, not a read
    asyncio.run(billing._save(recorded))
    assert (billing.loads, billing.app.reads, billing.writes) == (1, 0, 2)
    assert billing.app.get_invoice(invoice.id).status is InvoiceStatus.PAID


def test_a_stale_copy_is_read_again_for_a_second_recording(billing: Billing) -> None:
    """Recorded once on the attempt's copy, whose save failed on its version: the engine
    records again, and the policy reads the invoice again rather than reuse the copy."""
    invoice = billing.invoice()
    outcome = billing.attempt(invoice)
    billing.policy.record(item(invoice.id), Completed(outcome), T0)  # not saved
    [again] = billing.policy.record(item(invoice.id), Completed(outcome), T0)
    assert billing.app.reads == 1
    billing.app.save(again)
    assert billing.history(invoice)[-1] == "InvoicePaid"


def test_a_decline_is_recorded_with_its_dunning_retry(billing: Billing) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [False]
    outcome = billing.attempt(invoice)
    assert isinstance(outcome, Succeeded) and isinstance(outcome.result, Declined)
    declined = billing.record(invoice, Completed(outcome))
    assert declined.status is InvoiceStatus.RETRY_SCHEDULED
    assert declined.next_charge_at == T0 + DUNNING[0]


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (ProviderCustomerNotFound("no such customer"), "customer_not_found"),
        (ProviderCurrencyMismatch("USD only"), "currency_mismatch"),
        (ProviderRejected("400 bad request"), "refused"),
    ],
)
def test_a_refusal_needs_attention_and_is_never_retried(
    billing: Billing, refusal: Exception, reason: str
) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [refusal]
    outcome = billing.attempt(invoice)
    assert isinstance(outcome, Succeeded) and isinstance(outcome.result, NeedsAttention)
    assert outcome.result.reason == reason
    attention = billing.record(invoice, Completed(outcome))
    assert attention.status is InvoiceStatus.NEEDS_ATTENTION and attention.reason == reason


def test_an_unavailable_provider_is_a_failure_whose_outcome_is_known(billing: Billing) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [ProviderUnavailable("503")]
    outcome = billing.attempt(invoice)
    assert isinstance(outcome, TransientFailure) and isinstance(outcome.cause, ChargeFailed)
    assert outcome.cause.outcome_known and outcome.cause.detail == "503"
    retry_at = T0 + timedelta(seconds=3)
    retry = RetryScheduled(outcome.error, retry_at, outcome.cause)
    failed = billing.record(invoice, retry)
    assert failed.attempts[-1]["outcome"] == "failed" and failed.next_charge_at == retry_at
    # Certainly not charged: the next attempt charges again without asking first.
    again = billing.attempt(failed, number=2)
    assert isinstance(again, Succeeded) and billing.provider.asked == []


def test_an_unknown_outcome_is_reconciled_by_key_before_anything_is_charged_again(
    billing: Billing,
) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [OutcomeUnknown("read timeout")]
    outcome = billing.attempt(invoice)
    assert isinstance(outcome, TransientFailure) and isinstance(outcome.cause, ChargeFailed)
    assert not outcome.cause.outcome_known
    unknown = billing.record(invoice, RetryScheduled(outcome.error, T0, outcome.cause))
    assert unknown.attempts[-1]["outcome"] == "unknown"
    billing.provider.lookups = [True]  # it had been charged
    reconciled = billing.attempt(unknown, number=2)
    assert isinstance(reconciled, Succeeded) and isinstance(reconciled.result, Charged)
    assert reconciled.result == Charged(reconciled.result.attempted, 1, "reconciled")
    assert billing.provider.asked == ["invoice-1-cycle-1"] and len(billing.provider.charged) == 1
    paid = billing.record(unknown, Completed(reconciled), number=2)
    assert paid.status is InvoiceStatus.PAID


def test_an_unresolved_attempt_not_found_is_charged_again_with_the_same_key(
    billing: Billing,
) -> None:
    """A crash after the write-ahead left attempt 1 without an outcome."""
    invoice = billing.invoice()
    invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    billing.app.save(invoice)
    billing.provider.lookups = [False]
    outcome = billing.attempt(invoice, number=2)
    assert isinstance(outcome, Succeeded) and outcome.result == Charged(
        outcome.result.attempted, 2, "charged"
    )
    assert [r.idempotency_key for r in billing.provider.charged] == ["invoice-1-cycle-1"]
    attempted = list(billing.app.events.get(invoice.id))[-1]
    assert isinstance(attempted, Invoice.ChargeAttempted) and attempted.previous_not_charged


def test_a_failed_lookup_records_nothing_and_parks_as_an_unknown_outcome(
    billing: Billing,
) -> None:
    invoice = billing.invoice()
    invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    billing.app.save(invoice)
    billing.provider.lookups = [ProviderUnavailable("503 on lookup")]
    outcome = billing.attempt(invoice, number=2)
    assert isinstance(outcome, TransientFailure) and isinstance(outcome.cause, LookupFailed)
    assert billing.provider.charged == []  # never charged blindly
    retry = RetryScheduled(outcome.error, T0, outcome.cause)
    assert billing.policy.record(item(invoice.id, 2), retry, T0) == []  # nothing new
    parked = billing.record(invoice, Parked(outcome.error, outcome.cause), number=9)
    assert parked.status is InvoiceStatus.NEEDS_ATTENTION and parked.reason == "outcome_unknown"
    assert billing.app.reads == 0  # the attempt's copy again


def test_a_provider_that_cannot_be_asked_sends_the_invoice_to_an_operator_with_evidence(
    billing: Billing,
) -> None:
    invoice = billing.invoice()
    invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    billing.app.save(invoice)
    billing.provider.lookups = [LookupNotSupported("no lookup endpoint")]
    outcome = billing.attempt(invoice, number=2)
    assert isinstance(outcome, Succeeded) and isinstance(outcome.result, NeedsAttention)
    assert outcome.result.reason == "outcome_unknown"
    assert "invoice-1-cycle-1" in outcome.result.detail and billing.provider.charged == []
    attention = billing.record(invoice, Completed(outcome), number=2)
    assert attention.status is InvoiceStatus.NEEDS_ATTENTION


def test_a_worker_that_loses_the_write_ahead_race_does_not_call(billing: Billing) -> None:
    invoice = billing.invoice()
    stale = billing.app.repository.get(invoice.id)
    rival = billing.app.repository.get(invoice.id)
    rival.attempt_charge(1, None, T0, previous_not_charged=False, actor=ACTOR)
    billing.app.save(rival)  # another worker wrote ahead first

    async def stale_load(invoice_id: UUID) -> Aggregate:
        return stale  # type: ignore[no-any-return]

    billing.policy._load = stale_load
    with pytest.raises(ChargeRaceLost):
        billing.attempt(invoice)
    assert billing.provider.charged == []


def test_an_invoice_that_no_longer_expects_the_charge_is_obsolete(billing: Billing) -> None:
    paid = billing.invoice(ref_id=2, paid=True)
    outcome = billing.attempt(paid)
    assert isinstance(outcome, Obsolete) and "paid" in outcome.reason
    invoice = billing.invoice()
    assert isinstance(billing.attempt(invoice, cycle=2), Obsolete)  # another cycle's work
    assert billing.provider.charged == [] and billing.writes == 0


def test_parked_after_a_failed_charge_needs_attention(billing: Billing) -> None:
    invoice = billing.invoice()
    billing.provider.charges = [ProviderUnavailable("503")]
    outcome = billing.attempt(invoice, number=6)
    assert isinstance(outcome, TransientFailure)
    parked = billing.record(invoice, Parked(outcome.error, outcome.cause), number=6)
    assert parked.status is InvoiceStatus.NEEDS_ATTENTION
    event = list(billing.app.events.get(invoice.id))[-1]
    assert isinstance(event, Invoice.ChargeNeedsAttention)
    assert event.detail.startswith("gave up after 6 attempts; last error: charge failed: 503")


def test_a_permanent_failure_reads_the_invoice_and_needs_attention(billing: Billing) -> None:
    invoice = billing.invoice()
    billing.attempt(invoice)  # written ahead (the answer is not recorded here)
    refused = billing.record(invoice, Completed(PermanentFailure("refused for good")))
    assert refused.status is InvoiceStatus.NEEDS_ATTENTION and refused.reason == "refused"
    assert billing.app.reads == 1
