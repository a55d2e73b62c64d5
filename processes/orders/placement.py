"""The placement process manager: every accepted order is placed at the exchange.

The exchange's refusals are transient by contract, so an order is retried with capped
backoff until placed: it is never parked (its retry budget is None; operators see
long-unplaced orders in the list, `GET /orders?status=accepted&accepted_before=...`).
Only a refusal for good (the exchange answering that the order itself is invalid)
rejects it. The idempotency key is the order's id, identical for every attempt, so a
retry after a lost answer does not place the order twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.actors import worker
from domain.orders.aggregate import Order
from domain.orders.ports import OutboundOrder, StockExchange
from domain.work import (
    CancelWork,
    Completed,
    Decision,
    Outcome,
    Parked,
    PermanentFailure,
    RetryScheduled,
    RetrySettings,
    Succeeded,
    WorkItem,
    WorkRequest,
)
from processes.orders.application import OrdersApplication
from processes.outbound import outcome_of, work_id

log = logging.getLogger(__name__)

PLACE_ORDER = "orders.place"
# Who records each attempt's outcome.
WORKER = worker("orders")


@dataclass(frozen=True)
class PlacementPayload:
    """The order as accepted (the exchange's request is made from it, no read needed)."""

    type: str
    side: str
    instrument: str
    limit_price: Decimal | None
    quantity: int


@dataclass(frozen=True)
class OrderPlaced:
    """The exchange took the order: its id for it."""

    exchange_order_id: str


class OrderPlacement:
    kind = PLACE_ORDER
    payload_type = PlacementPayload
    # Only acceptance plans work: placement's own outcome (placed, rejected) is recorded
    # as the engine ends the work row, and no one else settles an order's placement.
    plans_from = (Order.OrderAccepted,)

    def __init__(
        self, application: OrdersApplication, exchange: StockExchange, retry: RetrySettings
    ) -> None:
        self.application = application
        self.exchange = exchange
        self.retry = retry

    def plan(self, event: object) -> Sequence[WorkRequest[PlacementPayload] | CancelWork]:
        if isinstance(event, Order.OrderAccepted):
            return [
                WorkRequest(
                    id=work_id(event.originator_id, PLACE_ORDER),
                    kind=PLACE_ORDER,
                    aggregate_id=event.originator_id,
                    due_at=event.accepted_at,
                    payload=PlacementPayload(
                        type=event.type,
                        side=event.side,
                        instrument=event.instrument,
                        limit_price=event.limit_price,
                        quantity=event.quantity,
                    ),
                )
            ]
        return []

    async def attempt(self, item: WorkItem[PlacementPayload]) -> Outcome[OrderPlaced]:
        payload = item.payload
        order = OutboundOrder(
            order_id=item.aggregate_id,
            type=payload.type,
            side=payload.side,
            instrument=payload.instrument,
            limit_price=payload.limit_price,
            quantity=payload.quantity,
        )
        return await outcome_of(
            self.exchange.place(order),
            lambda exchange_order_id: Succeeded(OrderPlaced(exchange_order_id)),
            log=log,
            failure="order placement failed",
            log_context={"order_id": str(item.aggregate_id), "attempt": item.attempt},
        )

    def record(
        self, item: WorkItem[PlacementPayload], decision: Decision[OrderPlaced], at: datetime
    ) -> Sequence[Order]:
        order = self.application.get_order(item.aggregate_id)
        match decision:
            case Completed(outcome=Succeeded(result=placed)):
                order.record_placed(item.attempt, placed.exchange_order_id, at, actor=WORKER)
            case Completed(outcome=PermanentFailure(error=error)):
                order.record_rejection(item.attempt, error, at, actor=WORKER)
            case RetryScheduled(error=error, retry_at=retry_at):
                order.record_placement_failure(item.attempt, error, at, retry_at, actor=WORKER)
            case Parked(error=error):
                # Unreachable with no budget and no deadline; kept visible if it ever
                # happens: the failure is recorded and the order stays accepted.
                log.error("order placement parked", extra={"order_id": str(order.id)})
                order.record_placement_failure(item.attempt, error, at, at, actor=WORKER)
        return [order]
