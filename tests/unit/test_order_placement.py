"""The placement process manager with a hand-written fake of the exchange and the
library's in-memory event store: what acceptance plans, how each answer is classified,
what `record` writes for each decision. Placement never parks: no retry budget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.access import Actor
from domain.orders.aggregate import Order, OrderStatus
from domain.orders.ports import OutboundOrder
from domain.outbound import OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.work import (
    Completed,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    TransientFailure,
    WorkRequest,
)
from processes.orders.application import OrdersApplication
from processes.orders.placement import PLACE_ORDER, OrderPlaced, OrderPlacement, PlacementPayload
from processes.outbound import work_id
from tests.unit.work_items import ScriptedAnswers, leased

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NEVER_PARK = RetrySettings(budget=None)


class FakeExchange:
    def __init__(self, *answers: str | Exception) -> None:
        self.answers = ScriptedAnswers(answers, default="X-1")
        self.placed: list[OutboundOrder] = []

    async def place(self, order: OutboundOrder) -> str:
        self.placed.append(order)
        return self.answers.next()


@pytest.fixture()
def app() -> OrdersApplication:
    return OrdersApplication()


def accepted(app: OrdersApplication, limit_price: Decimal | None = Decimal("101.25")) -> Order:
    order = Order(
        type="limit" if limit_price else "market",
        side="buy",
        instrument="ACME",
        limit_price=limit_price,
        quantity=10,
        idempotency_key=None,
        accepted_at=T0,
        actor=ACTOR,
    )
    app.save(order)
    return order


def request_for(
    policy: OrderPlacement, app: OrdersApplication, order: Order
) -> WorkRequest[PlacementPayload]:
    [event] = app.events.get(order.id)
    [request] = policy.plan(event)
    assert isinstance(request, WorkRequest)
    return request


item = leased


def test_acceptance_plans_one_placement_carrying_the_order(app: OrdersApplication) -> None:
    order = accepted(app)
    policy = OrderPlacement(app, FakeExchange(), NEVER_PARK)
    request = request_for(policy, app, order)
    assert request == WorkRequest(
        id=work_id(order.id, PLACE_ORDER),
        kind=PLACE_ORDER,
        aggregate_id=order.id,
        due_at=T0,
        payload=PlacementPayload("limit", "buy", "ACME", Decimal("101.25"), 10),
    )
    assert policy.plan(object()) == []


@pytest.mark.parametrize("limit_price", [Decimal("101.25"), None])
def test_a_placed_order_is_recorded_with_the_exchanges_id(
    app: OrdersApplication, limit_price: Decimal | None
) -> None:
    order = accepted(app, limit_price)
    exchange = FakeExchange("X-77")
    policy = OrderPlacement(app, exchange, NEVER_PARK)
    request = request_for(policy, app, order)
    outcome = asyncio.run(policy.attempt(item(request)))
    assert outcome == Succeeded(OrderPlaced("X-77"))
    assert exchange.placed == [
        OutboundOrder(order.id, order.type, "buy", "ACME", limit_price, 10)
    ]  # the order's id is the idempotency key
    [placed] = policy.record(item(request), Completed(outcome), T0)
    assert (placed.status, placed.exchange_order_id) == (OrderStatus.PLACED, "X-77")


@pytest.mark.parametrize("error", [ProviderUnavailable("429"), OutcomeUnknown("reset")])
def test_a_refusal_of_the_moment_is_retried_and_recorded(
    app: OrdersApplication, error: Exception
) -> None:
    order = accepted(app)
    policy = OrderPlacement(app, FakeExchange(error), NEVER_PARK)
    request = request_for(policy, app, order)
    outcome = asyncio.run(policy.attempt(item(request)))
    assert isinstance(outcome, TransientFailure)
    retry_at = T0 + timedelta(seconds=5)
    [failed] = policy.record(item(request), RetryScheduled(outcome.error, retry_at), T0)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        OrderStatus.ACCEPTED,
        1,
        retry_at,
    )


def test_an_invalid_order_is_rejected(app: OrdersApplication) -> None:
    order = accepted(app)
    policy = OrderPlacement(
        app, FakeExchange(ProviderRejected("400 unknown instrument")), NEVER_PARK
    )
    request = request_for(policy, app, order)
    outcome = asyncio.run(policy.attempt(item(request)))
    assert outcome == PermanentFailure("400 unknown instrument")
    [rejected] = policy.record(item(request), Completed(outcome), T0)
    assert rejected.status is OrderStatus.REJECTED


def test_a_parked_placement_stays_accepted(app: OrdersApplication) -> None:
    """Unreachable without a budget or a deadline; if it happens, the order stays accepted."""
    order = accepted(app)
    policy = OrderPlacement(app, FakeExchange(), NEVER_PARK)
    assert policy.retry.budget is None
    request = request_for(policy, app, order)
    [still] = policy.record(item(request, 4), Parked("503"), T0)
    assert still.status is OrderStatus.ACCEPTED and still.last_error == "503"
