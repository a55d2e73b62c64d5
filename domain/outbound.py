"""Errors every third-party port speaks, so process managers decide retries in one way.

Adapters translate transport errors and status codes into these.
"""

from __future__ import annotations


class OutboundError(Exception):
    """Base of what a port call can raise. `detail` is safe to log and record."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ProviderUnavailable(OutboundError):
    """Transient: the request certainly had no effect (5xx before work, refused connection).
    Retry with backoff."""


class OutcomeUnknown(OutboundError):
    """The request may or may not have had its effect (timeout after sending, connection
    dropped before the answer). Retrying is safe only with an idempotency key the provider
    honours, or after reconciliation."""


class ProviderRejected(OutboundError):
    """Permanent: the provider refused this request (4xx). Never retried."""
