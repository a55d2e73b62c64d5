"""The `Order` aggregate: one stock order, every attempt to place it, and its fills.

Lifecycle: accepted -> placed -> partially_filled -> filled; or accepted -> rejected
(the exchange refused it for good). Placement failures are transient by contract: each
is an event and the order stays `accepted` until placed (it is never parked). Fills are
recorded once per execution id, in whatever order they arrive, even before our own
record of the placement (the exchange may report faster than we record).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import Actor, Owner
from domain.actors import RecordsActor, fill_before_actors
from domain.orders.errors import ExecutionNotApplicable, OrderAlreadyFinal

ORDER_NAMESPACE = UUID("3b8e2f5c-9a41-4d7e-8c2b-6f0a1d9e4c73")


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    PLACED = "placed"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"


def order_id_for(idempotency_key: str | None, client: str | None = None) -> UUID:
    """With a client key the id follows from the client and the key, so a retried request
    lands on the order while another client's same key makes another order."""
    if idempotency_key is None:
        return uuid4()
    namespace = ORDER_NAMESPACE if client is None else uuid5(ORDER_NAMESPACE, client)
    return uuid5(namespace, idempotency_key)


def order_fingerprint(
    type_: str, side: str, instrument: str, limit_price: Decimal | None, quantity: int
) -> str:
    """Identifies the request body: the same key with another body is a conflict."""
    price = None if limit_price is None else f"{limit_price:.2f}"
    canonical = json.dumps([type_, side, instrument, price, quantity])
    return hashlib.sha256(canonical.encode()).hexdigest()


class Order(Aggregate):
    class OrderAccepted(RecordsActor, Aggregate.Created):
        type: str
        side: str
        instrument: str
        limit_price: Decimal | None
        quantity: int
        idempotency_key: str | None
        accepted_at: datetime
        client: str | None  # who placed it (a token's subject): it alone reads the order
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Stored before events named their actor and their owner: nobody recorded,
            # and no client's (operators' and auditors' only).
            fill_before_actors(state)
            state["client"] = None

    class OrderPlacementFailed(RecordsActor, Aggregate.Event):
        attempt: int
        error: str
        at: datetime
        next_attempt_at: datetime
        actor: Actor

    class OrderPlaced(RecordsActor, Aggregate.Event):
        attempt: int
        exchange_order_id: str
        at: datetime
        status: str  # `placed`, or a fill status when fills were recorded first
        actor: Actor

    class OrderRejected(RecordsActor, Aggregate.Event):
        attempt: int
        error: str
        at: datetime
        actor: Actor

    class OrderExecuted(RecordsActor, Aggregate.Event):
        execution_id: str
        quantity: int
        price: Decimal
        executed_at: datetime
        # The order's totals after this fill, so read models set rather than add.
        filled_quantity: int
        notional: Decimal
        status: str
        actor: Actor

    @staticmethod
    def create_id(idempotency_key: str | None, client: str | None = None, **_: object) -> UUID:
        return order_id_for(idempotency_key, client)

    @event(OrderAccepted)
    def __init__(
        self,
        type: str,
        side: str,
        instrument: str,
        limit_price: Decimal | None,
        quantity: int,
        idempotency_key: str | None,
        accepted_at: datetime,
        actor: Actor,
        client: str | None = None,
    ) -> None:
        self.type = type
        self.side = side
        self.instrument = instrument
        self.limit_price = limit_price
        self.quantity = quantity
        self.idempotency_key = idempotency_key
        self.accepted_at = accepted_at
        self.client = client
        self.status = OrderStatus.ACCEPTED
        self.attempts = 0
        self.last_error: str | None = None
        self.next_attempt_at: datetime | None = None
        self.exchange_order_id: str | None = None
        self.placed_at: datetime | None = None
        self.filled_quantity = 0
        self.notional = Decimal("0")
        self.execution_ids: set[str] = set()

    @property
    def owner(self) -> Owner:
        return Owner(client=self.client)

    @property
    def fingerprint(self) -> str:
        return order_fingerprint(
            self.type, self.side, self.instrument, self.limit_price, self.quantity
        )

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return (self.notional / self.filled_quantity).quantize(Decimal("0.0001"))

    # Commands -------------------------------------------------------------------------

    def record_placed(
        self, attempt: int, exchange_order_id: str, at: datetime, *, actor: Actor
    ) -> None:
        self.check_unplaced()
        status = self.status if self.filled_quantity else OrderStatus.PLACED
        self._placed(
            attempt=attempt,
            exchange_order_id=exchange_order_id,
            at=at,
            status=status.value,
            actor=actor,
        )

    def record_placement_failure(
        self, attempt: int, error: str, at: datetime, next_attempt_at: datetime, *, actor: Actor
    ) -> None:
        self.check_unplaced()
        self._placement_failed(
            attempt=attempt, error=error, at=at, next_attempt_at=next_attempt_at, actor=actor
        )

    def record_rejection(self, attempt: int, error: str, at: datetime, *, actor: Actor) -> None:
        self.check_unplaced()
        self._rejected(attempt=attempt, error=error, at=at, actor=actor)

    def record_execution(
        self,
        execution_id: str,
        quantity: int,
        price: Decimal,
        executed_at: datetime,
        *,
        actor: Actor,
    ) -> bool:
        """Record a fill once; answers False for an execution already recorded."""
        if execution_id in self.execution_ids:
            return False
        self.check_fill(quantity, price)
        filled = self.filled_quantity + quantity
        status = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIALLY_FILLED
        self._executed(
            execution_id=execution_id,
            quantity=quantity,
            price=price,
            executed_at=executed_at,
            filled_quantity=filled,
            notional=self.notional + price * quantity,
            status=status.value,
            actor=actor,
        )
        return True

    # Guards ---------------------------------------------------------------------------

    def check_unplaced(self) -> None:
        if self.exchange_order_id is not None or self.status is OrderStatus.REJECTED:
            raise OrderAlreadyFinal(self.status.value)

    def check_fill(self, quantity: int, price: Decimal) -> None:
        if self.status is OrderStatus.REJECTED:
            raise ExecutionNotApplicable("a rejected order has no executions")
        if quantity <= 0 or price <= 0:
            raise ExecutionNotApplicable("an execution needs a positive quantity and price")
        if self.filled_quantity + quantity > self.quantity:
            raise ExecutionNotApplicable(
                f"overfill: {self.filled_quantity} + {quantity} > {self.quantity}"
            )

    # Events (mutation only) -----------------------------------------------------------

    @event(OrderPlaced)
    def _placed(
        self, attempt: int, exchange_order_id: str, at: datetime, status: str, actor: Actor
    ) -> None:
        self.attempts = max(self.attempts, attempt)
        self.exchange_order_id = exchange_order_id
        self.placed_at = at
        self.status = OrderStatus(status)
        self.last_error = None
        self.next_attempt_at = None

    @event(OrderPlacementFailed)
    def _placement_failed(
        self, attempt: int, error: str, at: datetime, next_attempt_at: datetime, actor: Actor
    ) -> None:
        self.attempts = max(self.attempts, attempt)
        self.last_error = error
        self.next_attempt_at = next_attempt_at

    @event(OrderRejected)
    def _rejected(self, attempt: int, error: str, at: datetime, actor: Actor) -> None:
        self.attempts = max(self.attempts, attempt)
        self.status = OrderStatus.REJECTED
        self.last_error = error
        self.next_attempt_at = None

    @event(OrderExecuted)
    def _executed(
        self,
        execution_id: str,
        quantity: int,
        price: Decimal,
        executed_at: datetime,
        filled_quantity: int,
        notional: Decimal,
        status: str,
        actor: Actor,
    ) -> None:
        self.execution_ids.add(execution_id)
        self.filled_quantity = filled_quantity
        self.notional = notional
        self.status = OrderStatus(status)
