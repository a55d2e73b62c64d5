"""What operators read about set-aside items, and what they ask of them.

A request (retry, or skip with a reason) is recorded with who asked and when, and
NOTIFYed: the follower the item belongs to carries it out at its next catch-up (it alone
writes its read model, in log order) and records the outcome on the same row. One
request may wait per item; a closed item takes none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from adapters.set_aside.ledger import CHANNEL, RETRY, SKIP
from domain.errors import ConflictError, NotFoundError


class SetAsideNotFound(NotFoundError):
    code = "set_aside_not_found"


class SetAsideClosed(ConflictError):
    code = "set_aside_closed"


class SetAsideRequestWaiting(ConflictError):
    code = "set_aside_request_waiting"


class ItemState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


_STATE_CLAUSES = {
    ItemState.OPEN: "s.resolved_at IS NULL",
    ItemState.CLOSED: "s.resolved_at IS NOT NULL",
    ItemState.ALL: "true",
}


@dataclass(frozen=True)
class SetAsideItem:
    id: int
    follower: str
    log: str  # the application whose log the follower reads (`upstream`)
    aggregate_id: UUID
    notification_id: int  # the event the aggregate stopped at
    version: int
    topic: str
    error_type: str
    error: str
    failures: int  # 1, plus each retry that failed again
    set_aside_at: datetime
    failed_at: datetime  # the last failure
    waiting: int  # the aggregate's later events, not applied
    requested: str | None  # a request not carried out yet (retry, skip)
    resolution: str | None  # None while open: retried, skipped, rebuilt
    resolved_by: str | None
    resolved_at: datetime | None
    reason: str | None  # a skip's


@dataclass(frozen=True)
class WaitingEvent:
    notification_id: int
    version: int
    topic: str


@dataclass(frozen=True)
class SetAsideAction:
    id: int
    action: str  # retry, skip
    actor: str
    reason: str | None
    requested_at: datetime
    done_at: datetime | None  # None: the follower has not carried it out yet
    outcome: str | None  # applied, failed, skipped, superseded
    applied: int | None  # events a retry applied
    error: str | None  # a retry's new error


_ITEMS = """
SELECT s.id, s.follower, s.upstream AS log, s.aggregate_id, s.notification_id, s.version,
       s.topic, s.error_type, s.error, s.failures, s.set_aside_at, s.failed_at,
       (SELECT count(*) FROM ledgerflow_set_aside_waiting w WHERE w.item_id = s.id)
           AS waiting,
       (SELECT a.action FROM ledgerflow_set_aside_actions a
         WHERE a.item_id = s.id AND a.done_at IS NULL) AS requested,
       s.resolution, s.resolved_by, s.resolved_at, s.reason
  FROM ledgerflow_set_aside s
"""


class SetAsideDesk:
    """Set-aside items, read and acted on through one pool."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def items(
        self, *, state: ItemState = ItemState.OPEN, follower: str | None = None, limit: int = 100
    ) -> list[SetAsideItem]:
        """Items in `state` (of one follower, or all), oldest first."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(SetAsideItem))
            await cur.execute(
                _ITEMS + f" WHERE {_STATE_CLAUSES[state]}"
                " AND (%(follower)s::text IS NULL OR s.follower = %(follower)s)"
                " ORDER BY s.id LIMIT %(limit)s",
                {"follower": follower, "limit": limit},
            )
            return await cur.fetchall()

    async def item(self, item_id: int) -> SetAsideItem:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(SetAsideItem))
            await cur.execute(_ITEMS + " WHERE s.id = %s", (item_id,))
            found = await cur.fetchone()
        if found is None:
            raise SetAsideNotFound(f"no set-aside item {item_id}")
        return found

    async def waiting(self, item_id: int) -> list[WaitingEvent]:
        """The events waiting behind the item, in log order."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(WaitingEvent))
            await cur.execute(
                "SELECT notification_id, version, topic FROM ledgerflow_set_aside_waiting"
                " WHERE item_id = %s ORDER BY notification_id",
                (item_id,),
            )
            return await cur.fetchall()

    async def actions(self, item_id: int) -> list[SetAsideAction]:
        """Operators' requests about the item, oldest first, with what came of them."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=class_row(SetAsideAction))
            await cur.execute(
                "SELECT id, action, actor, reason, requested_at, done_at, outcome, applied,"
                " error FROM ledgerflow_set_aside_actions WHERE item_id = %s ORDER BY id",
                (item_id,),
            )
            return await cur.fetchall()

    async def retry(self, item_id: int, *, actor: str, now: datetime) -> SetAsideAction:
        """Ask the item's follower to apply its event and those waiting behind it again."""
        return await self._request(item_id, RETRY, actor, now, None)

    async def skip(self, item_id: int, *, actor: str, now: datetime, reason: str) -> SetAsideAction:
        """Ask the item's follower to close it without applying its events."""
        return await self._request(item_id, SKIP, actor, now, reason)

    async def _request(
        self, item_id: int, action: str, actor: str, now: datetime, reason: str | None
    ) -> SetAsideAction:
        async with self.pool.connection() as conn, conn.transaction():
            await _lock_open_item(conn, item_id)
            cur = conn.cursor(row_factory=class_row(SetAsideAction))
            await cur.execute(
                "INSERT INTO ledgerflow_set_aside_actions"
                " (item_id, action, actor, reason, requested_at) VALUES (%s, %s, %s, %s, %s)"
                " RETURNING id, action, actor, reason, requested_at, done_at, outcome,"
                " applied, error",
                (item_id, action, actor, reason, now),
            )
            requested = await cur.fetchone()
            await conn.execute(f"NOTIFY {CHANNEL}")
        assert requested is not None  # INSERT ... RETURNING
        return requested


async def _lock_open_item(conn: AsyncConnection[Any], item_id: int) -> None:
    """Lock the item (its follower locks it too, to carry a request out) or say why it
    takes no request."""
    cur = await conn.execute(
        "SELECT resolved_at IS NOT NULL,"
        " EXISTS(SELECT 1 FROM ledgerflow_set_aside_actions a"
        "         WHERE a.item_id = s.id AND a.done_at IS NULL)"
        " FROM ledgerflow_set_aside s WHERE id = %s FOR UPDATE",
        (item_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise SetAsideNotFound(f"no set-aside item {item_id}")
    closed, waiting = row
    if closed:
        raise SetAsideClosed(f"set-aside item {item_id} is closed already")
    if waiting:
        raise SetAsideRequestWaiting(
            f"set-aside item {item_id} has a request its follower has not carried out yet"
        )
