"""The `lending_applications` read model: one row per loan application, for lists and
analysts. A batch's events are folded and written as `projections.rows` describes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.lending.aggregate import LoanApplication
from projections.pagination import Page, keyset_page, owned_by
from projections.parked import ParkedRows
from projections.rows import RowPerAggregate

COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "amount",
    "currency",
    "term_months",
    "email",
    "status",
    "job_id",
    "note",
    "attempts",
    "last_error",
    "submitted_at",
    "decided_at",
    "client",
    "updated_at",
    "version",
)

# No decision by the deadline: an operator polls again.
PARKED = ParkedRows(
    "lending",
    "needs_attention",
    "lending_applications",
    "status = 'needs_attention'",
    "coalesce(note, last_error)",
    error="last_error",
)


@dataclass(frozen=True)
class ApplicationRow:
    id: UUID
    first_name: str
    last_name: str
    amount: Decimal
    currency: str
    term_months: int
    email: str
    status: str
    job_id: str | None
    note: str | None
    attempts: int
    last_error: str | None
    submitted_at: datetime
    decided_at: datetime | None
    client: str | None
    updated_at: datetime
    version: int


class LendingView(RowPerAggregate):
    name = table = "lending_applications"
    columns = COLUMNS
    created_by = (LoanApplication.ApplicationSubmitted,)

    def changes(self, event: Any) -> dict[str, Any]:
        if isinstance(event, LoanApplication.ApplicationSubmitted):
            return {
                "first_name": event.first_name,
                "last_name": event.last_name,
                "amount": event.amount,
                "currency": event.currency,
                "term_months": event.term_months,
                "email": event.email,
                "status": "pending",
                "job_id": None,
                "note": None,
                "attempts": 0,
                "last_error": None,
                "submitted_at": event.submitted_at,
                "decided_at": None,
                "client": event.client,
            }
        if isinstance(event, LoanApplication.ApplicationDecided):
            return {
                "status": event.status,
                "job_id": event.job_id,
                "note": None,
                "decided_at": event.at,
            }
        if isinstance(event, LoanApplication.SubmissionRefused):
            return {"status": "failed", "note": event.error, "decided_at": event.at}
        if isinstance(event, LoanApplication.SubmissionAttemptFailed):
            return {"attempts": event.attempt, "last_error": event.error}
        if isinstance(event, LoanApplication.ApplicationFlagged):
            return {"status": "needs_attention", "note": event.reason}
        if isinstance(event, LoanApplication.PollingResumed):  # a new round
            return {"status": "pending", "note": None, "attempts": 0, "last_error": None}
        return {}


class LendingQueries:
    """Reads of the read model; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(
        self, *, status: str | None, limit: int, cursor: str | None, client: str | None = None
    ) -> Page[ApplicationRow]:
        """`client`: only the applications that client submitted (`None`: everyone's)."""
        clauses, params = owned_by(client)
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        return await keyset_page(
            self.pool,
            ApplicationRow,
            f"SELECT {', '.join(COLUMNS)} FROM lending_applications",
            clauses,
            params,
            order=("submitted_at", "id"),
            limit=limit,
            cursor=cursor,
        )
