"""The `Order` aggregate: its lifecycle rules, and a state machine over every path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.access import Actor
from domain.orders.aggregate import Order, OrderStatus, order_fingerprint, order_id_for
from domain.orders.errors import ExecutionNotApplicable, OrderAlreadyFinal
from domain.work import OutcomeNotApplicable
from processes.orders.application import OrdersApplication

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def new_order(key: str | None = None, quantity: int = 10) -> Order:
    return Order(
        type="limit",
        side="buy",
        instrument="US0378331005",
        limit_price=Decimal("12.50"),
        quantity=quantity,
        idempotency_key=key,
        accepted_at=T0,
        actor=ACTOR,
    )


def test_the_id_follows_from_the_idempotency_key_only_when_given() -> None:
    assert new_order("k-1").id == order_id_for("k-1") == new_order("k-1").id
    assert new_order().id != new_order().id


def test_the_fingerprint_tells_bodies_apart() -> None:
    assert new_order().fingerprint == new_order("k").fingerprint
    assert new_order().fingerprint != new_order(quantity=11).fingerprint
    same_price = order_fingerprint("limit", "buy", "US0378331005", Decimal("12.5"), 10)
    assert same_price == new_order().fingerprint


def test_fills_are_recorded_once_and_in_any_order() -> None:
    order = new_order()
    assert order.record_execution("e2", 6, Decimal("12.40"), T0, actor=ACTOR)
    assert not order.record_execution("e2", 6, Decimal("12.40"), T0, actor=ACTOR)  # a repeat
    assert order.status is OrderStatus.PARTIALLY_FILLED
    order.record_placed(1, "EX1", T0, actor=ACTOR)  # the placement recorded after the first fill
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.record_execution("e1", 4, Decimal("12.50"), T0, actor=ACTOR)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == Decimal("12.4400")
    with pytest.raises(ExecutionNotApplicable):
        order.record_execution("e3", 1, Decimal("12.50"), T0, actor=ACTOR)  # overfill


def test_placement_outcomes_after_the_end_are_not_applicable() -> None:
    order = new_order()
    order.record_rejection(1, "invalid instrument", T0, actor=ACTOR)
    with pytest.raises(OrderAlreadyFinal) as raised:
        order.record_placed(2, "EX", T0, actor=ACTOR)
    assert isinstance(raised.value, OutcomeNotApplicable)
    with pytest.raises(ExecutionNotApplicable):
        order.record_execution("e1", 1, Decimal("1.00"), T0, actor=ACTOR)


def test_events_round_trip_through_the_store() -> None:
    app = OrdersApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    order = new_order("k")
    order.record_placement_failure(1, "refused", T0, T0 + timedelta(seconds=1), actor=ACTOR)
    order.record_placed(2, "EX1", T0, actor=ACTOR)
    order.record_execution("e1", 10, Decimal("12.49"), T0, actor=ACTOR)
    app.save(order)
    loaded = app.get_order(order.id)
    assert loaded.status is OrderStatus.FILLED and loaded.attempts == 2
    assert loaded.execution_ids == {"e1"} and loaded.notional == Decimal("124.90")


class OrderLifecycle(RuleBasedStateMachine):
    """Any sequence of outcomes and fills keeps the order's invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.order = new_order(quantity=20)
        self.attempt = 0
        self.fills: dict[str, int] = {}
        self.placed = False
        self.rejected = False

    @rule(error=st.sampled_from(["503", "timeout"]))
    def transient_failure(self, error: str) -> None:
        self.attempt += 1
        if self.placed or self.rejected:
            with pytest.raises(OrderAlreadyFinal):
                self.order.record_placement_failure(self.attempt, error, T0, T0, actor=ACTOR)
        else:
            self.order.record_placement_failure(self.attempt, error, T0, T0, actor=ACTOR)
            assert self.order.status in {OrderStatus.ACCEPTED} or self.fills

    @rule()
    def placed_now(self) -> None:
        self.attempt += 1
        if self.placed or self.rejected:
            with pytest.raises(OrderAlreadyFinal):
                self.order.record_placed(self.attempt, "EX", T0, actor=ACTOR)
        else:
            self.order.record_placed(self.attempt, "EX", T0, actor=ACTOR)
            self.placed = True

    @precondition(lambda self: not self.fills)
    @rule()
    def rejected_now(self) -> None:
        self.attempt += 1
        if self.placed or self.rejected:
            with pytest.raises(OrderAlreadyFinal):
                self.order.record_rejection(self.attempt, "no", T0, actor=ACTOR)
        else:
            self.order.record_rejection(self.attempt, "no", T0, actor=ACTOR)
            self.rejected = True

    @rule(
        execution=st.sampled_from([f"e{i}" for i in range(8)]),
        quantity=st.integers(1, 8),
        cents=st.integers(1, 100_000),
    )
    def fill(self, execution: str, quantity: int, cents: int) -> None:
        price = Decimal(cents) / 100
        filled = sum(self.fills.values())
        if execution in self.fills:
            assert not self.order.record_execution(execution, quantity, price, T0, actor=ACTOR)
        elif self.rejected or filled + quantity > 20:
            with pytest.raises(ExecutionNotApplicable):
                self.order.record_execution(execution, quantity, price, T0, actor=ACTOR)
        else:
            assert self.order.record_execution(execution, quantity, price, T0, actor=ACTOR)
            self.fills[execution] = quantity

    @invariant()
    def consistent(self) -> None:
        order = self.order
        assert order.filled_quantity == sum(self.fills.values()) <= order.quantity
        assert order.attempts <= self.attempt
        if self.rejected:
            assert order.status is OrderStatus.REJECTED
        elif order.filled_quantity == order.quantity:
            assert order.status is OrderStatus.FILLED
        elif order.filled_quantity:
            assert order.status is OrderStatus.PARTIALLY_FILLED
        elif self.placed:
            assert order.status is OrderStatus.PLACED
        else:
            assert order.status is OrderStatus.ACCEPTED


TestOrderLifecycle = OrderLifecycle.TestCase
