"""The billing workflow's integration events: what other services learn on the bus."""

from __future__ import annotations

import json
from typing import Any

from domain.billing.invoice import Invoice
from domain.messaging import Message, routing_key

PUBLISHED = {
    Invoice.InvoicePaid: "InvoicePaid",
    Invoice.InvoiceMarkedPaid: "InvoicePaid",
    Invoice.ChargeDeclined: "InvoiceChargeDeclined",
    Invoice.ChargeNeedsAttention: "InvoiceNeedsAttention",
    Invoice.InvoiceWrittenOff: "InvoiceWrittenOff",
}


def billing_integration_message(event: Any) -> Message | None:
    name = PUBLISHED.get(type(event))
    if name is None:
        return None
    data = {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in vars(event).items()
        # Who caused it stays in the audit trail: the contract names the facts only.
        if key not in {"originator_id", "originator_version", "timestamp", "actor"}
    }
    body = {"invoice_id": str(event.originator_id), "event": name, **data}
    return Message(
        body=json.dumps(body, default=str).encode(),
        message_id=f"{event.originator_id}:{event.originator_version}",
        correlation_id=str(event.originator_id),
        routing_key=routing_key("billing", name),
        headers={"event_type": name},
    )
