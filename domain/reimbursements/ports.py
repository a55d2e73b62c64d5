"""Ports of the reimbursements workflow: the `Mailer` and the `PaymentRail`.

Both raise `domain.outbound` errors: `ProviderRejected` (never retried),
`ProviderUnavailable` (certainly no effect) or `OutcomeUnknown` (maybe an effect; safe
to repeat because every call carries its idempotency key or Message-ID).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class OutboundMail:
    """One mail. `message_id` (RFC 5322 `<...@...>`) is deterministic per intended mail,
    so a retried send is recognisably the same mail."""

    message_id: str
    sender: str
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: OutboundMail) -> None:
        """Hand the mail over for delivery (returns once accepted)."""


class RailStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@dataclass(frozen=True)
class PaymentOrder:
    """A payment to a member's account. `idempotency_key` names this payment."""

    idempotency_key: str
    bank_id: str
    account_id: str
    amount: Decimal
    currency: str
    reference: str


@dataclass(frozen=True)
class RailPayment:
    payment_id: str
    status: RailStatus
    failure_reason: str | None = None


class PaymentRail(Protocol):
    async def create(self, order: PaymentOrder) -> RailPayment:
        """Start the payment (usually answered `PENDING`); a repeat of the key answers
        the same payment."""

    async def status(self, payment_id: str) -> RailPayment:
        """The payment's current status (a read: no effect)."""
