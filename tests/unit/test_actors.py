"""Every command event records its actor: each aggregate's events declare one, each
command records the one it is given, queued commands name theirs in headers, and a
request's actor is its token's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate
from starlette.requests import Request

from api.callers import UNAUTHENTICATED, actor_of
from domain.access import Actor, Principal, Role
from domain.actors import BEFORE_ACTORS, RecordsActor
from domain.billing.calendar import BillingCalendar
from domain.billing.customer import Customer
from domain.billing.invoice import Invoice
from domain.billing.run import BillingRun
from domain.lending.aggregate import LoanApplication
from domain.messaging import (
    Message,
    PoisonMessage,
    actor_headers,
    actor_of_message,
)
from domain.orders.aggregate import Order
from domain.reimbursements.aggregate import Reimbursement
from domain.reimbursements.reference import Bank, BankAccount, BankAdministrator, BankMember
from domain.sms.aggregate import Sms

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
CLIENT = Actor("client", "client-a")
MEMBER = Actor("member", "member-7")
ADMIN = Actor("bank_admin", "admin-3")
OPERATOR = Actor("operator", "ops-alice")
WORKER = Actor.system("worker-x")
AGGREGATES: list[type[Aggregate]] = [
    Bank,
    BankAdministrator,
    BankMember,
    BankAccount,
    Customer,
    BillingCalendar,
    Sms,
    Order,
    LoanApplication,
    Reimbursement,
    Invoice,
    BillingRun,
]


def events_of(aggregate: type[Aggregate]) -> list[type]:
    """The events an aggregate declares (not the library's `Event` and `Created` bases
    it makes for each aggregate class)."""
    return [
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and name not in ("Event", "Created")
    ]


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=lambda a: a.__name__)
def test_every_event_of_the_workflows_aggregates_declares_its_actor(
    aggregate: type[Aggregate],
) -> None:
    events = events_of(aggregate)
    assert events
    for event in events:
        assert issubclass(event, RecordsActor), event.__qualname__
        assert "actor" in event.__dataclass_fields__, event.__qualname__  # type: ignore[attr-defined]
        # Each reads its stored versions without an actor up to its current one.
        for version in range(1, event.class_version):
            assert callable(getattr(event, f"upcast_v{version}_v{version + 1}"))


def recorded(aggregate: Aggregate) -> list[tuple[str, Actor]]:
    return [(type(e).__name__, e.actor) for e in aggregate.collect_events()]  # type: ignore[attr-defined]


def test_an_sms_records_the_client_the_worker_and_the_operator() -> None:
    sms = Sms(
        message_id="m-1",
        phone_number="+254712345678",
        text="hi",
        correlation_id=None,
        requested_at=T0,
        actor=CLIENT,
    )
    sms.record_transient_failure(1, "503", T0, LATER, actor=WORKER)
    sms.park(2, "503", LATER, actor=WORKER)
    sms.retry(LATER, actor=OPERATOR)
    sms.record_rejection(3, "400", LATER, actor=WORKER)
    other = Sms(
        message_id="m-2",
        phone_number="+254712345678",
        text="hi",
        correlation_id=None,
        requested_at=T0,
        actor=CLIENT,
    )
    other.record_sent(1, "SM1", T0, actor=WORKER)
    assert recorded(sms) == [
        ("SmsRequested", CLIENT),
        ("SmsSendAttemptFailed", WORKER),
        ("SmsParked", WORKER),
        ("SmsRetryRequested", OPERATOR),
        ("SmsRejected", WORKER),
    ]
    assert recorded(other) == [("SmsRequested", CLIENT), ("SmsSent", WORKER)]


def test_an_order_records_the_client_the_worker_and_the_ingester() -> None:
    ingester = Actor.system("orders-ingester")

    def order() -> Order:
        return Order(
            type="limit",
            side="buy",
            instrument="US0378331005",
            limit_price=Decimal("10.00"),
            quantity=5,
            idempotency_key=None,
            accepted_at=T0,
            actor=CLIENT,
        )

    placed, rejected = order(), order()
    placed.record_placement_failure(1, "refused", T0, LATER, actor=WORKER)
    placed.record_placed(2, "X1", LATER, actor=WORKER)
    placed.record_execution("E1", 5, Decimal("10.00"), LATER, actor=ingester)
    rejected.record_rejection(1, "invalid", T0, actor=WORKER)
    assert recorded(placed) == [
        ("OrderAccepted", CLIENT),
        ("OrderPlacementFailed", WORKER),
        ("OrderPlaced", WORKER),
        ("OrderExecuted", ingester),
    ]
    assert recorded(rejected) == [("OrderAccepted", CLIENT), ("OrderRejected", WORKER)]


def test_a_loan_application_records_the_submitter_the_poller_and_the_operator() -> None:
    poller = Actor.system("lending-poller")

    def application() -> LoanApplication:
        return LoanApplication(
            first_name="Ada",
            last_name="Lovelace",
            amount=Decimal("1500.00"),
            currency="EUR",
            term_months=12,
            email="ada@example.com",
            submitted_at=T0,
            actor=CLIENT,
        )

    decided, refused = application(), application()
    decided.record_submission_failure(1, 1, "503", T0, actor=poller)
    decided.flag("no decision", LATER, actor=poller)
    decided.resume_polling(LATER, actor=OPERATOR)
    decided.record_decision("completed", "job-1", LATER, actor=poller)
    refused.record_refusal("invalid", T0, actor=poller)
    assert recorded(decided) == [
        ("ApplicationSubmitted", CLIENT),
        ("SubmissionAttemptFailed", poller),
        ("ApplicationFlagged", poller),
        ("PollingResumed", OPERATOR),
        ("ApplicationDecided", poller),
    ]
    assert recorded(refused) == [("ApplicationSubmitted", CLIENT), ("SubmissionRefused", poller)]


def test_a_reimbursement_records_the_member_the_administrator_the_worker_and_the_operator() -> None:
    bank = uuid4()

    def reimbursement() -> Reimbursement:
        return Reimbursement(
            bank_account_id=uuid4(),
            bank_id=bank,
            member_id=uuid4(),
            amount=Decimal("12.50"),
            currency="EUR",
            description="Taxi",
            submitted_at=T0,
            actor=MEMBER,
        )

    paid, denied = reimbursement(), reimbursement()
    paid.approve(uuid4(), bank, T0, actor=ADMIN)
    paid.record_notification_failed(
        "email", "approved", 0, "<m>", 1, "503", T0, LATER, actor=WORKER
    )
    paid.record_notification_sent("email", "approved", 0, "<m>", 2, LATER, actor=WORKER)
    paid.record_payment_attempt_failed(1, 1, "503", T0, LATER, actor=WORKER)
    paid.record_payment_submitted(1, 2, "PAY1", LATER, actor=WORKER)
    paid.record_payment_failed(1, "FAILURE", LATER, definitive=True, actor=WORKER)
    paid.retry_payment(LATER, actor=OPERATOR)
    paid.record_payment_submitted(2, 3, "PAY2", LATER, actor=WORKER)
    paid.record_payment_succeeded(2, "PAY2", LATER, actor=WORKER)
    denied.deny(uuid4(), bank, "no receipt", T0, actor=ADMIN)
    assert recorded(paid) == [
        ("ReimbursementSubmitted", MEMBER),
        ("ReimbursementApproved", ADMIN),
        ("NotificationFailed", WORKER),
        ("NotificationSent", WORKER),
        ("PaymentAttemptFailed", WORKER),
        ("PaymentSubmitted", WORKER),
        ("PaymentFailed", WORKER),
        ("PaymentRetryRequested", OPERATOR),
        ("PaymentSubmitted", WORKER),
        ("PaymentSucceeded", WORKER),
    ]
    assert recorded(denied) == [("ReimbursementSubmitted", MEMBER), ("ReimbursementDenied", ADMIN)]


def test_an_invoice_and_a_run_record_the_seed_the_worker_the_scheduler_and_the_operator() -> None:
    seed, scheduler = Actor.system("seed"), Actor.system("billing-scheduler")
    invoice = Invoice(
        ref_id=7,
        customer_ref_id=7,
        amount=Decimal("9.00"),
        currency="EUR",
        paid=False,
        at=T0,
        actor=seed,
    )
    invoice.attempt_charge(1, None, T0, previous_not_charged=False, actor=WORKER)
    invoice.record_failure(1, "503", T0, LATER, outcome_known=True, actor=WORKER)
    invoice.attempt_charge(1, None, LATER, previous_not_charged=False, actor=WORKER)
    invoice.record_declined(2, "insufficient_balance", LATER, LATER, actor=WORKER)
    invoice.attempt_charge(2, None, LATER, previous_not_charged=False, actor=WORKER)
    invoice.needs_attention(3, "customer_not_found", "gone", LATER, actor=WORKER)
    invoice.resolve("retry", "try again", LATER, actor=OPERATOR)
    invoice.attempt_charge(2, None, LATER, previous_not_charged=False, actor=WORKER)
    invoice.record_paid(4, "charged", LATER, actor=WORKER)
    assert recorded(invoice) == [
        ("InvoiceIssued", seed),
        ("ChargeAttempted", WORKER),
        ("ChargeFailed", WORKER),
        ("ChargeAttempted", WORKER),
        ("ChargeDeclined", WORKER),
        ("ChargeAttempted", WORKER),
        ("ChargeNeedsAttention", WORKER),
        ("ChargeRetryRequested", OPERATOR),
        ("ChargeAttempted", WORKER),
        ("InvoicePaid", WORKER),
    ]
    for action in ("mark_paid", "write_off"):
        resolved = Invoice(
            ref_id=8,
            customer_ref_id=8,
            amount=Decimal("9.00"),
            currency="EUR",
            paid=False,
            at=T0,
            actor=seed,
        )
        resolved.needs_attention(None, "customer_not_found", "gone", T0, actor=WORKER)
        resolved.resolve(action, "settled by hand", T0, actor=OPERATOR)
        assert recorded(resolved)[-1][1] == OPERATOR
    run = BillingRun(period="2026-11", trigger="schedule", at=T0, actor=scheduler)
    run.select([uuid4(), uuid4()], T0, actor=WORKER, chunk=1)
    assert recorded(run) == [
        ("RunStarted", scheduler),
        ("InvoicesSelected", WORKER),
        ("InvoicesSelected", WORKER),
        ("SelectionCompleted", WORKER),
    ]


def test_a_queued_command_names_its_client_in_its_headers() -> None:
    def message(headers: dict[str, str]) -> Message:
        return Message(body=b"{}", message_id="m-1", headers=headers)

    assert actor_of_message(message({"client_id": "client-a"})) == CLIENT
    assert actor_of_message(message(actor_headers(WORKER))) == WORKER
    assert actor_of_message(message(actor_headers(CLIENT))) == CLIENT
    for nameless in ({}, {"client_id": "  "}, {"actor_role": "system"}):
        with pytest.raises(PoisonMessage) as refused:
            actor_of_message(message(nameless))
        assert refused.value.reason.startswith("missing_client: ")
    # A queue is no way to act as an operator or a member.
    for role in ("operator", "member", "unknown"):
        with pytest.raises(PoisonMessage) as refused:
            actor_of_message(message({"client_id": "x", "actor_role": role}))
        assert refused.value.reason.startswith("invalid_actor_role: ")


def request_of(principal: Principal | None) -> Request:
    state = {} if principal is None else {"principal": principal}
    return Request({"type": "http", "headers": [], "state": state})


def test_a_requests_actor_is_its_tokens_role_and_subject() -> None:
    member = Principal(role=Role.MEMBER, subject="member-7", member_id=UUID(int=7))
    assert actor_of(request_of(member)) == MEMBER
    assert actor_of(request_of(Principal(role=None, subject="roleless"))) == Actor(
        "none", "roleless"
    )
    assert actor_of(request_of(None)) == UNAUTHENTICATED


def test_events_stored_before_actors_say_so() -> None:
    assert Actor("unknown", "before-actors") == BEFORE_ACTORS
    state: dict[str, object] = {"attempt": 1}
    Sms.SmsSent.upcast_v1_v2(state)
    assert state == {"attempt": 1, "actor": BEFORE_ACTORS}


def test_reference_data_records_who_loaded_it_and_billing_who_began_it() -> None:
    from processes.reimbursements.demo_banks import demo_banks

    seed = Actor.system("seed")
    loaded = [event for aggregate in demo_banks(seed) for event in aggregate.collect_events()]
    assert loaded and {event.actor for event in loaded} == {seed}  # type: ignore[attr-defined]
    customer = Customer(ref_id=1, currency="EUR", at=T0, actor=seed)
    calendar = BillingCalendar.begin(T0, "UTC", Actor.system("billing"))
    assert recorded(customer) == [("CustomerRegistered", seed)]
    assert recorded(calendar) == [("BillingBegan", Actor.system("billing"))]
