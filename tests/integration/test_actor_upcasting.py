"""Events stored before actors were recorded still read, from PostgreSQL: the rows are
written as they were stored then, never rewritten, and the library upcasts them as it
reads them (their actor: `BEFORE_ACTORS`). New events go on after them with theirs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from adapters.eventstore import open_application
from domain.access import Actor
from domain.actors import BEFORE_ACTORS
from domain.billing.invoice import Invoice
from domain.lending.aggregate import LoanApplication
from domain.orders.aggregate import Order
from domain.reimbursements.aggregate import Reimbursement
from domain.sms.aggregate import SmsStatus
from processes.applications import WorkflowApplication
from processes.audit import audit_trail
from processes.billing.application import BillingApplication
from processes.lending.application import LendingApplication
from processes.orders.application import OrdersApplication
from processes.reimbursements.application import ReimbursementsApplication
from processes.sms.application import SmsApplication

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ANYONE = Actor.system("tests")  # dropped from the rows below, as they were stored
OPERATOR = Actor("operator", "ops-alice")

# An SMS requested then parked, its two rows verbatim as the platform stored them before
# actors were recorded (frozen: never edit these to follow a new version).
SMS_ID = UUID("da6b8c0d-83ff-5e70-a696-c5a2977e27c7")
SMS_ROWS = [
    (
        1,
        "domain.sms.aggregate:Sms.SmsRequested",
        '{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-01T09:00:00+00:00"},'
        '"originator_topic":"domain.sms.aggregate:Sms","message_id":"before-actors-1",'
        '"phone_number":"+254712345678","text":"hello","correlation_id":null,'
        '"requested_at":{"_type_":"datetime_iso","_data_":"2026-11-01T09:00:00+00:00"}}',
    ),
    (
        2,
        "domain.sms.aggregate:Sms.SmsParked",
        '{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-01T09:10:00+00:00"},'
        '"attempt":7,"error":"503","at":{"_type_":"datetime_iso",'
        '"_data_":"2026-11-01T09:10:00+00:00"}}',
    ),
]


def write_rows(
    application: WorkflowApplication, rows: list[tuple[UUID, int, str, bytes]], url: str
) -> None:
    """Rows straight into the application's events table, as an older version wrote them."""
    table = Identifier(application.recorder.events_table_name)  # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as conn:
        for row in rows:
            conn.execute(
                SQL(
                    "INSERT INTO {} (originator_id, originator_version, topic, state)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(table),
                row,
            )


@pytest.fixture()
def sms_app(fresh_database_url: str) -> Iterator[SmsApplication]:
    application = open_application(SmsApplication, fresh_database_url)
    yield application
    application.close()


def test_an_sms_stored_before_actors_reads_and_goes_on(
    sms_app: SmsApplication, fresh_database_url: str
) -> None:
    write_rows(
        sms_app,
        [(SMS_ID, version, topic, state.encode()) for version, topic, state in SMS_ROWS],
        fresh_database_url,
    )
    sms = sms_app.get_sms(SMS_ID)
    assert (sms.status, sms.attempts, sms.message_id) == (SmsStatus.PARKED, 7, "before-actors-1")

    sms.retry(T0, actor=OPERATOR)  # an operator's retry, today
    sms_app.save(sms)

    trail = audit_trail(sms_app, SMS_ID)
    assert [(e.type, e.actor) for e in trail] == [
        ("SmsRequested", BEFORE_ACTORS),
        ("SmsParked", BEFORE_ACTORS),
        ("SmsRetryRequested", OPERATOR),
    ]
    with psycopg.connect(fresh_database_url) as conn:  # the old rows are as they were
        stored = conn.execute(
            "SELECT state FROM sms_events WHERE originator_id = %s ORDER BY originator_version",
            (SMS_ID,),
        ).fetchall()
    assert [bytes(row[0]).decode() for row in stored[:2]] == [state for _, _, state in SMS_ROWS]


def _order() -> Order:
    order = Order(
        type="limit",
        side="buy",
        instrument="US0378331005",
        limit_price=Decimal("10.00"),
        quantity=5,
        idempotency_key=None,
        accepted_at=T0,
        actor=ANYONE,
    )
    order.record_placed(1, "X1", T0, actor=ANYONE)
    return order


def _application() -> LoanApplication:
    application = LoanApplication(
        first_name="Ada",
        last_name="Lovelace",
        amount=Decimal("1500.00"),
        currency="EUR",
        term_months=12,
        email="ada@example.com",
        submitted_at=T0,
        actor=ANYONE,
    )
    application.flag("no decision", T0, actor=ANYONE)
    return application


def _reimbursement() -> Reimbursement:
    reimbursement = Reimbursement(
        bank_account_id=uuid4(),
        bank_id=(bank := uuid4()),
        member_id=uuid4(),
        amount=Decimal("12.50"),
        currency="EUR",
        description="Taxi",
        submitted_at=T0,
        actor=ANYONE,
    )
    reimbursement.approve(uuid4(), bank, T0, actor=ANYONE)
    reimbursement.record_payment_failed(1, "gave up: timeout", T0, definitive=False, actor=ANYONE)
    return reimbursement


def _invoice() -> Invoice:
    invoice = Invoice(
        ref_id=7,
        customer_ref_id=7,
        amount=Decimal("9"),
        currency="EUR",
        paid=False,
        at=T0,
        actor=ANYONE,
    )
    invoice.needs_attention(None, "customer_not_found", "gone", T0, actor=ANYONE)
    return invoice


def as_stored_before_actors(application: WorkflowApplication, aggregate: Aggregate) -> list[Any]:
    """The aggregate's rows as the version before actors stored them: no actor and no
    class version (a `PaymentFailed` kept its version 2 of then, with `definitive`)."""
    rows = []
    for event in aggregate.collect_events():
        stored: StoredEvent = application.mapper.to_stored_event(event)
        state = json.loads(stored.state)
        del state["actor"]
        version = state.pop("class_version")
        if version > 2:
            state["class_version"] = version - 1
        rows.append(
            (
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                json.dumps(state).encode(),
            )
        )
    return rows


@pytest.mark.parametrize(
    ("application_class", "build", "resume"),
    [
        (OrdersApplication, _order, None),
        (LendingApplication, _application, lambda a: a.resume_polling(T0, actor=OPERATOR)),
        (ReimbursementsApplication, _reimbursement, lambda r: r.retry_payment(T0, actor=OPERATOR)),
        (
            BillingApplication,
            _invoice,
            lambda i: i.resolve("write_off", "gone", T0, actor=OPERATOR),
        ),
    ],
    ids=["orders", "lending", "reimbursements", "billing"],
)
def test_every_workflows_events_stored_before_actors_read(
    fresh_database_url: str,
    application_class: type[WorkflowApplication],
    build: Callable[[], Aggregate],
    resume: Callable[[Any], None] | None,
) -> None:
    application = open_application(application_class, fresh_database_url)
    try:
        aggregate = build()
        rows = as_stored_before_actors(application, aggregate)
        write_rows(application, rows, fresh_database_url)
        trail = audit_trail(application, aggregate.id)
        assert [e.actor for e in trail] == [BEFORE_ACTORS] * len(rows)
        if resume is not None:
            again: Any = application.repository.get(aggregate.id)
            resume(again)
            application.save(again)
            assert audit_trail(application, aggregate.id)[-1].actor == OPERATOR
    finally:
        application.close()


def test_a_payment_failure_of_the_first_version_reads_through_both_upcasts(
    fresh_database_url: str,
) -> None:
    application = open_application(ReimbursementsApplication, fresh_database_url)
    try:
        reimbursement = _reimbursement()
        rows = as_stored_before_actors(application, reimbursement)
        originator_id, version, topic, state = rows[-1]
        first = json.loads(state)
        del first["definitive"], first["class_version"]  # version 1 had neither
        rows[-1] = (originator_id, version, topic, json.dumps(first).encode())
        write_rows(application, rows, fresh_database_url)
        [*_, failed] = application.events.get(reimbursement.id)
        assert isinstance(failed, Reimbursement.PaymentFailed)
        assert (failed.definitive, failed.actor) == (False, BEFORE_ACTORS)
    finally:
        application.close()
