"""The `lending_applications` read model: one row per loan application, for lists and
analysts. A batch's events are folded in memory, then written with `executemany`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import class_row

from domain.lending.aggregate import LoanApplication
from projections.pagination import Page, decode_cursor, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS lending_applications (
    id uuid PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    amount numeric(15, 2) NOT NULL,
    currency text NOT NULL,
    term_months integer NOT NULL,
    email text NOT NULL,
    status text NOT NULL,
    job_id text,
    note text,
    submitted_at timestamptz NOT NULL,
    decided_at timestamptz,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS lending_applications_status
    ON lending_applications (status, submitted_at, id);
CREATE INDEX IF NOT EXISTS lending_applications_submitted
    ON lending_applications (submitted_at, id);
"""

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
    "submitted_at",
    "decided_at",
    "updated_at",
    "version",
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
    submitted_at: datetime
    decided_at: datetime | None
    updated_at: datetime
    version: int


def _changes(event: Any) -> dict[str, Any]:
    """The columns an event sets (besides updated_at and version)."""
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
            "submitted_at": event.submitted_at,
            "decided_at": None,
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
    if isinstance(event, LoanApplication.ApplicationFlagged):
        return {"status": "needs_attention", "note": event.reason}
    if isinstance(event, LoanApplication.PollingResumed):
        return {"status": "pending", "note": None}
    return {}


class LendingView:
    name = "lending_applications"

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute("TRUNCATE lending_applications")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        inserts: dict[UUID, dict[str, Any]] = {}
        updates: dict[UUID, dict[str, Any]] = {}
        for event in events:
            changes = _changes(event)
            if not changes:
                continue
            changes |= {"updated_at": event.timestamp, "version": event.originator_version}
            application_id = event.originator_id
            if isinstance(event, LoanApplication.ApplicationSubmitted):
                inserts[application_id] = {"id": application_id, **changes}
            elif application_id in inserts:
                inserts[application_id].update(changes)
            else:
                updates.setdefault(application_id, {}).update(changes)
        if inserts:
            await cur.executemany(
                f"INSERT INTO lending_applications ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join('%(' + c + ')s' for c in COLUMNS)})"
                " ON CONFLICT (id) DO NOTHING",
                list(inserts.values()),
            )
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for application_id, changes in updates.items():
            by_columns.setdefault(tuple(sorted(changes)), []).append(
                {"id": application_id, **changes}
            )
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{c} = %({c})s" for c in columns)
            await cur.executemany(
                f"UPDATE lending_applications SET {assignments} WHERE id = %(id)s", rows
            )


class LendingQueries:
    """Reads of the read model; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(
        self, *, status: str | None, limit: int, cursor: str | None
    ) -> Page[ApplicationRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if cursor is not None:
            at, key = decode_cursor(cursor)
            clauses.append("(submitted_at, id) > (%s, %s)")
            params += [at, key]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(ApplicationRow))
            await cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM lending_applications {where}"
                " ORDER BY submitted_at, id LIMIT %s",
                [*params, limit + 1],
            )
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].submitted_at, str(rows[-1].id))
        return Page(rows, next_cursor)

    async def counts_by_status(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT status, count(*) FROM lending_applications GROUP BY status"
            )
            return {status: int(n) for status, n in await cur.fetchall()}
