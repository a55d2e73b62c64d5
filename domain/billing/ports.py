"""Ports of the billing process managers besides the payment provider."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class PendingInvoices(Protocol):
    async def pending_invoices(self, caught_up_to: int) -> list[UUID] | None:
        """Ids of every pending invoice, read once the read model has applied the event
        log up to `caught_up_to`; None while it has not yet (ask again later)."""
