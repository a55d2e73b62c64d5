"""The `SmsProvider` port: hand one text to an SMS provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundSms:
    phone_number: str
    text: str
    idempotency_key: str


class SmsProvider(Protocol):
    async def send(self, sms: OutboundSms) -> str:
        """Send and answer the provider's message id.

        Raises `ProviderRejected` (4xx: never retried), `ProviderUnavailable` (5xx,
        connection refused) or `OutcomeUnknown` (timeout or dropped answer after the
        request went out); see `domain.outbound`.
        """
