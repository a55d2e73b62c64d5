"""The `sms_view` read model: one row per SMS, for lists and analysts (see
`projections.rows` for how a batch of events is written)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.sms.aggregate import Sms
from projections.pagination import Page, keyset_page, owned_by
from projections.parked import ParkedRows
from projections.rows import RowPerAggregate

COLUMNS = (
    "id",
    "message_id",
    "phone_number",
    "text",
    "correlation_id",
    "status",
    "attempts",
    "provider_message_id",
    "last_error",
    "requested_at",
    "next_attempt_at",
    "finished_at",
    "client",
    "updated_at",
    "version",
)

# Out of retries, waiting for an operator's retry.
PARKED = ParkedRows(
    "sms", "parked", "sms_view", "status = 'parked'", "last_error", error="last_error"
)


@dataclass(frozen=True)
class SmsRow:
    id: UUID
    message_id: str
    phone_number: str
    text: str
    correlation_id: str | None
    status: str
    attempts: int
    provider_message_id: str | None
    last_error: str | None
    requested_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    client: str | None
    updated_at: datetime
    version: int


class SmsView(RowPerAggregate):
    name = table = "sms_view"
    columns = COLUMNS
    created_by = (Sms.SmsRequested,)

    def changes(self, event: Any) -> dict[str, Any]:
        if isinstance(event, Sms.SmsRequested):
            return {
                "message_id": event.message_id,
                "phone_number": event.phone_number,
                "text": event.text,
                "correlation_id": event.correlation_id,
                "status": "requested",
                "attempts": 0,
                "provider_message_id": None,
                "last_error": None,
                "requested_at": event.requested_at,
                "next_attempt_at": None,
                "finished_at": None,
                "client": event.client,
            }
        if isinstance(event, Sms.SmsSendAttemptFailed):
            return {
                "status": "sending",
                "attempts": event.attempt,
                "last_error": event.error,
                "next_attempt_at": event.next_attempt_at,
            }
        if isinstance(event, Sms.SmsSent):
            return {
                "status": "sent",
                "attempts": event.attempt,
                "last_error": None,
                "provider_message_id": event.provider_message_id,
                "next_attempt_at": None,
                "finished_at": event.at,
            }
        if isinstance(event, Sms.SmsRejected):
            return {
                "status": "failed",
                "attempts": event.attempt,
                "last_error": event.error,
                "next_attempt_at": None,
                "finished_at": event.at,
            }
        if isinstance(event, Sms.SmsParked):
            return {
                "status": "parked",
                "attempts": event.attempt,
                "last_error": event.error,
                "next_attempt_at": None,
                "finished_at": event.at,
            }
        if isinstance(event, Sms.SmsRetryRequested):
            return {"status": "requested", "next_attempt_at": None, "finished_at": None}
        return {}


class SmsQueries:
    """Reads of the read model; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(
        self, *, status: str | None, limit: int, cursor: str | None, client: str | None = None
    ) -> Page[SmsRow]:
        """`client`: only the SMS that client requested (`None`: everyone's)."""
        clauses, params = owned_by(client)
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        return await keyset_page(
            self.pool,
            SmsRow,
            f"SELECT {', '.join(COLUMNS)} FROM sms_view",
            clauses,
            params,
            order=("requested_at", "id"),
            limit=limit,
            cursor=cursor,
        )
