"""The `StockExchange` port (place one order) and the execution reports it streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class OutboundOrder:
    """An order as the exchange receives it; `order_id` is the idempotency key."""

    order_id: UUID
    type: str
    side: str
    instrument: str
    limit_price: Decimal | None
    quantity: int


class StockExchange(Protocol):
    async def place(self, order: OutboundOrder) -> str:
        """Place the order and answer the exchange's order id.

        Raises `ProviderUnavailable` (the exchange refused for now: not placed),
        `OutcomeUnknown` (no answer after sending: retried with the same order id, which
        the exchange honours) or `ProviderRejected` (refused for good); see
        `domain.outbound`.
        """


@dataclass(frozen=True)
class ExecutionReport:
    """One fill of a placed order, as the exchange reports it. `sequence` orders the
    exchange's stream (contiguous from 1), `execution_id` identifies the fill."""

    sequence: int
    execution_id: str
    order_id: UUID
    quantity: int
    price: Decimal
    executed_at: datetime
