"""The billing workflow's ports: the payment provider, and the pending invoices a run selects.

`PaymentProvider.charge` answers True when charged, False when the customer's balance did
not allow it. Errors, all `domain.outbound` errors so the engine classifies them like any
call: `ProviderCustomerNotFound` / `ProviderCurrencyMismatch` (refusals, never retried),
`OutcomeUnknown` (the provider's network error: the charge may have happened),
`ProviderUnavailable` (certainly not charged). `find_charge` asks the provider whether a
charge with an idempotency key happened; `LookupNotSupported` when it cannot be asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from domain.outbound import OutboundError, ProviderRejected


@dataclass(frozen=True)
class ChargeRequest:
    invoice_id: int
    customer_id: int
    amount: Decimal
    currency: str
    idempotency_key: str


class ProviderCustomerNotFound(ProviderRejected):
    code = "customer_not_found"


class ProviderCurrencyMismatch(ProviderRejected):
    code = "currency_mismatch"


class LookupNotSupported(OutboundError):
    """The provider cannot be asked about a charge by its key."""


class PaymentProvider(Protocol):
    async def charge(self, request: ChargeRequest) -> bool:
        """Charge the invoice; see the module docstring for the errors."""

    async def find_charge(self, idempotency_key: str) -> bool:
        """Whether a charge with this key took effect."""


class PendingInvoices(Protocol):
    async def pending_invoices(self, caught_up_to: int) -> list[UUID] | None:
        """Ids of every pending invoice, read once the read model has applied the event
        log up to `caught_up_to`; None while it has not yet (ask again later)."""
