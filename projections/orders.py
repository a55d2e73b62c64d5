"""The `orders_view` read model: one row per order, for lists, operators and analysts.

A batch's events are folded and written as `projections.rows` describes. Fill events
carry the order's totals, so the projection sets columns and never adds (replays are
exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.orders.aggregate import Order
from projections.pagination import Page, keyset_page, owned_by
from projections.rows import RowPerAggregate

COLUMNS = (
    "id",
    "type",
    "side",
    "instrument",
    "limit_price",
    "quantity",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "exchange_order_id",
    "placed_at",
    "filled_quantity",
    "notional",
    "accepted_at",
    "client",
    "updated_at",
    "version",
)


@dataclass(frozen=True)
class OrderRow:
    id: UUID
    type: str
    side: str
    instrument: str
    limit_price: Decimal | None
    quantity: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    exchange_order_id: str | None
    placed_at: datetime | None
    filled_quantity: int
    notional: Decimal
    accepted_at: datetime
    client: str | None
    updated_at: datetime
    version: int

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return (self.notional / self.filled_quantity).quantize(Decimal("0.0001"))


class OrdersView(RowPerAggregate):
    name = table = "orders_view"
    columns = COLUMNS
    created_by = (Order.OrderAccepted,)

    def changes(self, event: Any) -> dict[str, Any]:
        if isinstance(event, Order.OrderAccepted):
            return {
                "type": event.type,
                "side": event.side,
                "instrument": event.instrument,
                "limit_price": event.limit_price,
                "quantity": event.quantity,
                "status": "accepted",
                "attempts": 0,
                "last_error": None,
                "next_attempt_at": None,
                "exchange_order_id": None,
                "placed_at": None,
                "filled_quantity": 0,
                "notional": Decimal("0"),
                "accepted_at": event.accepted_at,
                "client": event.client,
            }
        if isinstance(event, Order.OrderPlacementFailed):
            return {
                "attempts": event.attempt,
                "last_error": event.error,
                "next_attempt_at": event.next_attempt_at,
            }
        if isinstance(event, Order.OrderPlaced):
            return {
                "status": event.status,
                "attempts": event.attempt,
                "last_error": None,
                "next_attempt_at": None,
                "exchange_order_id": event.exchange_order_id,
                "placed_at": event.at,
            }
        if isinstance(event, Order.OrderRejected):
            return {
                "status": "rejected",
                "attempts": event.attempt,
                "last_error": event.error,
                "next_attempt_at": None,
            }
        if isinstance(event, Order.OrderExecuted):
            return {
                "status": event.status,
                "filled_quantity": event.filled_quantity,
                "notional": event.notional,
            }
        return {}


class OrdersQueries:
    """Reads of the read model; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(
        self,
        *,
        status: str | None,
        accepted_before: datetime | None,
        limit: int,
        cursor: str | None,
        client: str | None = None,
    ) -> Page[OrderRow]:
        """`client`: only the orders that client placed (`None`: everyone's)."""
        clauses, params = owned_by(client)
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if accepted_before is not None:
            clauses.append("accepted_at < %s")
            params.append(accepted_before)
        return await keyset_page(
            self.pool,
            OrderRow,
            f"SELECT {', '.join(COLUMNS)} FROM orders_view",
            clauses,
            params,
            order=("accepted_at", "id"),
            limit=limit,
            cursor=cursor,
        )
