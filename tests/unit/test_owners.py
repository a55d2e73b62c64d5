"""SMS, orders and loan applications record the client that created them, and its keys are
its own; events stored before they did (version 1, without `client` or `actor`) still
read, as resources of no client (operators' and auditors' alone) by no recorded actor."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.access import Actor, Owner, Principal, Role
from domain.actors import BEFORE_ACTORS
from domain.lending.aggregate import LoanApplication
from domain.orders.aggregate import Order, order_id_for
from domain.sms.aggregate import Sms, sms_id_for
from processes.lending.application import LendingApplication
from processes.orders.application import OrdersApplication
from processes.sms.application import SmsApplication

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ACTOR = Actor("client", "shop-a")


def sms(client: str | None) -> Sms:
    return Sms(
        message_id="m-1",
        phone_number="+254712345678",
        text="hi",
        correlation_id=None,
        requested_at=T0,
        client=client,
        actor=ACTOR,
    )


def order(client: str | None) -> Order:
    return Order(
        type="limit",
        side="buy",
        instrument="US0378331005",
        limit_price=Decimal("189.25"),
        quantity=10,
        idempotency_key="k-1",
        accepted_at=T0,
        client=client,
        actor=ACTOR,
    )


def application(client: str | None) -> LoanApplication:
    return LoanApplication(
        first_name="Amina",
        last_name="Okafor",
        amount=Decimal("15000.00"),
        currency="EUR",
        term_months=36,
        email="amina@example.com",
        submitted_at=T0,
        client=client,
        actor=ACTOR,
    )


def test_a_clients_keys_are_its_own() -> None:
    assert sms_id_for("m-1", "shop-a") != sms_id_for("m-1", "shop-b") != sms_id_for("m-1")
    assert sms("shop-a").id == sms_id_for("m-1", "shop-a")
    assert sms(None).id == sms_id_for("m-1")  # the platform's own SMS: as before
    assert order_id_for("k-1", "shop-a") != order_id_for("k-1", "shop-b")
    assert order("shop-a").id == order_id_for("k-1", "shop-a")
    assert order_id_for(None, "shop-a") != order_id_for(None, "shop-a")  # no key: new ids


@pytest.mark.parametrize(
    ("make", "application_class"),
    [(sms, SmsApplication), (order, OrdersApplication), (application, LendingApplication)],
)
def test_a_created_event_stored_before_owners_reads_as_no_clients(
    make: Any, application_class: type[Application[Any]]
) -> None:
    app = application_class()
    try:
        created: Aggregate = make("shop-a")
        assert created.owner == Owner(client="shop-a")  # type: ignore[attr-defined]
        stored = app.mapper.to_stored_event(created.collect_events()[0])
        state = json.loads(stored.state)
        assert state.pop("class_version") == 2 and state.pop("client") == "shop-a"
        state.pop("actor")  # nor did they name their actor
        version_1 = dataclasses.replace(stored, state=json.dumps(state).encode())  # as before

        event = app.mapper.to_domain_event(version_1)
        rebuilt = event.mutate(None)
    finally:
        app.close()

    assert event.client is None  # type: ignore[attr-defined]
    assert event.actor == BEFORE_ACTORS  # type: ignore[attr-defined]
    assert rebuilt is not None and rebuilt.owner == Owner()  # type: ignore[attr-defined]
    assert not Principal(Role.CLIENT, "shop-a").reaches(rebuilt.owner)  # type: ignore[attr-defined]
    assert Principal(Role.AUDITOR, "audit").reaches(rebuilt.owner)  # type: ignore[attr-defined]
