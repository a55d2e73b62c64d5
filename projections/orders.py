"""The `orders_view` read model: one row per order, for lists, operators and analysts.

Events of a batch are folded in memory first (one row change per order per batch), then
written with `executemany` in the follower's transaction. Fill events carry the order's
totals, so the projection sets columns and never adds (replays are exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import class_row

from domain.orders.aggregate import Order
from projections.pagination import Page, decode_cursor, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders_view (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    side text NOT NULL,
    instrument text NOT NULL,
    limit_price numeric(20, 2),
    quantity bigint NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    next_attempt_at timestamptz,
    exchange_order_id text,
    placed_at timestamptz,
    filled_quantity bigint NOT NULL DEFAULT 0,
    notional numeric NOT NULL DEFAULT 0,
    accepted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_view_status ON orders_view (status, accepted_at, id);
CREATE INDEX IF NOT EXISTS orders_view_accepted ON orders_view (accepted_at, id);
"""

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
    updated_at: datetime
    version: int

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return (self.notional / self.filled_quantity).quantize(Decimal("0.0001"))


def _changes(event: Any) -> dict[str, Any]:
    """The columns an event sets (besides updated_at and version)."""
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


class OrdersView:
    name = "orders_view"

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute("TRUNCATE orders_view")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        inserts: dict[UUID, dict[str, Any]] = {}
        updates: dict[UUID, dict[str, Any]] = {}
        for event in events:
            changes = _changes(event)
            if not changes:
                continue
            changes |= {"updated_at": event.timestamp, "version": event.originator_version}
            order_id = event.originator_id
            if isinstance(event, Order.OrderAccepted):
                inserts[order_id] = {"id": order_id, **changes}
            elif order_id in inserts:
                inserts[order_id].update(changes)
            else:
                updates.setdefault(order_id, {}).update(changes)
        if inserts:
            await cur.executemany(
                f"INSERT INTO orders_view ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join('%(' + c + ')s' for c in COLUMNS)})"
                " ON CONFLICT (id) DO NOTHING",
                list(inserts.values()),
            )
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for order_id, changes in updates.items():
            by_columns.setdefault(tuple(sorted(changes)), []).append({"id": order_id, **changes})
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{c} = %({c})s" for c in columns)
            await cur.executemany(f"UPDATE orders_view SET {assignments} WHERE id = %(id)s", rows)


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
    ) -> Page[OrderRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if accepted_before is not None:
            clauses.append("accepted_at < %s")
            params.append(accepted_before)
        if cursor is not None:
            at, key = decode_cursor(cursor)
            clauses.append("(accepted_at, id) > (%s, %s)")
            params += [at, key]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(OrderRow))
            await cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM orders_view {where}"
                " ORDER BY accepted_at, id LIMIT %s",
                [*params, limit + 1],
            )
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].accepted_at, str(rows[-1].id))
        return Page(rows, next_cursor)

    async def counts_by_status(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM orders_view GROUP BY status")
            return {status: int(n) for status, n in await cur.fetchall()}
