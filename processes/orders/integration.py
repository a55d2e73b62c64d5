"""The orders workflow's integration events: placements and fills on the event bus."""

from __future__ import annotations

import json
from typing import Any

from domain.messaging import Message, routing_key
from domain.orders.aggregate import Order


def order_integration_message(event: Any) -> Message | None:
    """`OrderPlaced`, `OrderRejected` and `OrderExecuted` are published once recorded."""
    if isinstance(event, Order.OrderPlaced):
        body: dict[str, Any] = {
            "exchange_order_id": event.exchange_order_id,
            "placed_at": event.at.isoformat(),
        }
    elif isinstance(event, Order.OrderRejected):
        body = {"error": event.error, "rejected_at": event.at.isoformat()}
    elif isinstance(event, Order.OrderExecuted):
        body = {
            "execution_id": event.execution_id,
            "quantity": event.quantity,
            "price": str(event.price),
            "filled_quantity": event.filled_quantity,
            "status": event.status,
            "executed_at": event.executed_at.isoformat(),
        }
    else:
        return None
    name = type(event).__name__
    return Message(
        body=json.dumps({"order_id": str(event.originator_id), **body}).encode(),
        message_id=f"{event.originator_id}:{event.originator_version}",
        correlation_id=str(event.originator_id),
        routing_key=routing_key("orders", name),
        headers={"event_type": name},
    )
