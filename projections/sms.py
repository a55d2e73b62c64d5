"""The `sms_view` read model: one row per SMS, for lists and analysts.

Events of a batch are folded in memory first (one row change per SMS per batch), then
written with `executemany` in the follower's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import class_row

from domain.sms.aggregate import Sms
from projections.pagination import Page, decode_cursor, encode_cursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS sms_view (
    id uuid PRIMARY KEY,
    message_id text NOT NULL,
    phone_number text NOT NULL,
    text text NOT NULL,
    correlation_id text,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    provider_message_id text,
    last_error text,
    requested_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_view_status ON sms_view (status, requested_at, id);
CREATE INDEX IF NOT EXISTS sms_view_requested ON sms_view (requested_at, id);
"""

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
    "updated_at",
    "version",
)
UPDATABLE = COLUMNS[5:]


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
    updated_at: datetime
    version: int


def _changes(event: Any) -> dict[str, Any]:
    """The columns an event sets (besides updated_at and version)."""
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


class SmsView:
    name = "sms_view"

    async def setup(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute(SCHEMA)

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        await conn.execute("TRUNCATE sms_view")

    async def apply(self, cur: AsyncCursor[Any], events: Sequence[Any]) -> None:
        inserts: dict[UUID, dict[str, Any]] = {}
        updates: dict[UUID, dict[str, Any]] = {}
        for event in events:
            changes = _changes(event)
            if not changes:
                continue
            changes |= {"updated_at": event.timestamp, "version": event.originator_version}
            sms_id = event.originator_id
            if isinstance(event, Sms.SmsRequested):
                inserts[sms_id] = {"id": sms_id, **changes}
            elif sms_id in inserts:
                inserts[sms_id].update(changes)
            else:
                updates.setdefault(sms_id, {}).update(changes)
        if inserts:
            await cur.executemany(
                f"INSERT INTO sms_view ({', '.join(COLUMNS)})"
                f" VALUES ({', '.join('%(' + c + ')s' for c in COLUMNS)})"
                " ON CONFLICT (id) DO NOTHING",
                list(inserts.values()),
            )
        # Group updates by the columns they set, so each group is one statement.
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for sms_id, changes in updates.items():
            by_columns.setdefault(tuple(sorted(changes)), []).append({"id": sms_id, **changes})
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{c} = %({c})s" for c in columns)
            await cur.executemany(f"UPDATE sms_view SET {assignments} WHERE id = %(id)s", rows)


class SmsQueries:
    """Reads of the read model; `pool` is a psycopg AsyncConnectionPool."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(self, *, status: str | None, limit: int, cursor: str | None) -> Page[SmsRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = %s")
            params.append(status)
        if cursor is not None:
            at, key = decode_cursor(cursor)
            clauses.append("(requested_at, id) > (%s, %s)")
            params += [at, key]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(SmsRow))
            await cur.execute(
                f"SELECT {', '.join(COLUMNS)} FROM sms_view {where}"
                " ORDER BY requested_at, id LIMIT %s",
                [*params, limit + 1],
            )
            rows = await cur.fetchall()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].requested_at, str(rows[-1].id))
        return Page(rows, next_cursor)

    async def counts_by_status(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM sms_view GROUP BY status")
            return {status: int(n) for status, n in await cur.fetchall()}
