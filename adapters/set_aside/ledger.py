"""A follower's own record of what it set aside: written in the follower's transactions,
with its position, so an event is applied, set aside or waiting exactly once.

Tables (revision 0002): `ledgerflow_set_aside` (an item: the event an aggregate stopped
at, and the error), `ledgerflow_set_aside_waiting` (its aggregate's later events) and
`ledgerflow_set_aside_actions` (operators' requests, carried out by the follower).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor

from adapters.set_aside.errors import describe
from adapters.set_aside.isolation import Failure, LogEntry

CHANNEL = "ledgerflow_set_aside"
"""NOTIFYed when an operator asks for something: followers wake and carry it out."""

RETRY, SKIP = "retry", "skip"


class Resolution(StrEnum):
    """How an item was closed."""

    RETRIED = "retried"  # applied, with the events waiting behind it
    SKIPPED = "skipped"  # never applied, for the operator's reason
    REBUILT = "rebuilt"  # the read model was rebuilt from the start of its log


class Outcome(StrEnum):
    """What came of an operator's request."""

    APPLIED = "applied"
    FAILED = "failed"  # failed again: the item stays, with the new error
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"  # the item was closed meanwhile (a rebuild)


@dataclass(frozen=True)
class FollowerState:
    """Where a follower stands when it starts catching up."""

    position: int
    blocked: frozenset[UUID]  # aggregates with an open item
    requests_waiting: bool  # operators' requests not carried out yet


@dataclass(frozen=True)
class Request:
    id: int
    item_id: int
    action: str  # RETRY or SKIP
    actor: str
    reason: str | None


@dataclass(frozen=True)
class OpenItem:
    """An item as a retry needs it: the event it stopped at and those waiting behind."""

    id: int
    aggregate_id: UUID
    resolved: bool
    notification_ids: tuple[int, ...]  # the set-aside event's first, then the waiting ones


class FollowerLedger:
    """One follower's set-aside items: `follower` reading `upstream`'s log."""

    def __init__(self, follower: str, upstream: str) -> None:
        self.follower = follower
        self.upstream = upstream

    async def state(self, conn: AsyncConnection[Any]) -> FollowerState:
        """Position, blocked aggregates and whether requests wait: one round trip."""
        cur = await conn.execute(
            """
            SELECT p.position,
                   ARRAY(SELECT s.aggregate_id FROM ledgerflow_set_aside s
                          WHERE s.follower = p.follower AND s.upstream = p.upstream
                            AND s.resolved_at IS NULL),
                   EXISTS(SELECT 1 FROM ledgerflow_set_aside_actions a
                            JOIN ledgerflow_set_aside s ON s.id = a.item_id
                           WHERE a.done_at IS NULL
                             AND s.follower = p.follower AND s.upstream = p.upstream)
              FROM ledgerflow_positions p
             WHERE p.follower = %s AND p.upstream = %s
            """,
            (self.follower, self.upstream),
        )
        row = await cur.fetchone()
        if row is None:
            return FollowerState(0, frozenset(), False)
        return FollowerState(int(row[0]), frozenset(row[1]), bool(row[2]))

    async def set_aside(
        self, cur: AsyncCursor[Any], failures: Sequence[Failure], now: datetime
    ) -> None:
        """Open an item per failure (each of a different aggregate with no open item)."""
        if not failures:
            return
        rows = []
        for entry, error in failures:
            described = describe(error)
            rows.append(
                (
                    self.follower,
                    self.upstream,
                    entry.aggregate_id,
                    entry.notification_id,
                    entry.version,
                    entry.topic,
                    described.type,
                    described.message,
                    now,
                    now,
                )
            )
        await cur.executemany(
            "INSERT INTO ledgerflow_set_aside (follower, upstream, aggregate_id,"
            " notification_id, version, topic, error_type, error, set_aside_at, failed_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )

    async def wait(self, cur: AsyncCursor[Any], entries: Sequence[LogEntry]) -> None:
        """Record `entries` as waiting behind their aggregates' open items."""
        if not entries:
            return
        await cur.execute(
            """
            INSERT INTO ledgerflow_set_aside_waiting (item_id, notification_id, version, topic)
            SELECT s.id, w.notification_id, w.version, w.topic
              FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::text[])
                   AS w(aggregate_id, notification_id, version, topic)
              JOIN ledgerflow_set_aside s
                ON s.aggregate_id = w.aggregate_id AND s.resolved_at IS NULL
               AND s.follower = %s AND s.upstream = %s
            """,
            (
                [entry.aggregate_id for entry in entries],
                [entry.notification_id for entry in entries],
                [entry.version for entry in entries],
                [entry.topic for entry in entries],
                self.follower,
                self.upstream,
            ),
        )
        if cur.rowcount != len(entries):  # an event would be neither applied nor waiting
            raise RuntimeError(
                f"{self.follower}: {len(entries) - cur.rowcount} waiting events have no open item"
            )

    async def requests(self, conn: AsyncConnection[Any]) -> list[Request]:
        """Operators' requests to carry out, oldest first."""
        cur = await conn.execute(
            "SELECT a.id, a.item_id, a.action, a.actor, a.reason"
            "  FROM ledgerflow_set_aside_actions a"
            "  JOIN ledgerflow_set_aside s ON s.id = a.item_id"
            " WHERE a.done_at IS NULL AND s.follower = %s AND s.upstream = %s"
            " ORDER BY a.id",
            (self.follower, self.upstream),
        )
        return [Request(*row) for row in await cur.fetchall()]

    async def lock_item(self, cur: AsyncCursor[Any], item_id: int) -> OpenItem:
        """The item, locked against operators' requests until the transaction ends."""
        await cur.execute(
            "SELECT aggregate_id, notification_id, resolved_at IS NOT NULL"
            " FROM ledgerflow_set_aside WHERE id = %s FOR UPDATE",
            (item_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise LookupError(f"no set-aside item {item_id}")
        aggregate_id, notification_id, resolved = row
        await cur.execute(
            "SELECT notification_id FROM ledgerflow_set_aside_waiting"
            " WHERE item_id = %s ORDER BY notification_id",
            (item_id,),
        )
        waiting = tuple(int(found[0]) for found in await cur.fetchall())
        return OpenItem(item_id, aggregate_id, bool(resolved), (int(notification_id), *waiting))

    async def failed_again(
        self, cur: AsyncCursor[Any], item: OpenItem, failure: Failure, now: datetime
    ) -> None:
        """A retry failed at `failure`: the item now stops there (the events before it
        were applied), with the new error."""
        entry, error = failure
        described = describe(error)
        await cur.execute(
            "UPDATE ledgerflow_set_aside SET notification_id = %s, version = %s, topic = %s,"
            " error_type = %s, error = %s, failures = failures + 1, failed_at = %s"
            " WHERE id = %s",
            (
                entry.notification_id,
                entry.version,
                entry.topic,
                described.type,
                described.message,
                now,
                item.id,
            ),
        )
        await cur.execute(
            "DELETE FROM ledgerflow_set_aside_waiting WHERE item_id = %s AND notification_id <= %s",
            (item.id, entry.notification_id),
        )

    async def resolve(
        self,
        cur: AsyncCursor[Any],
        item: OpenItem,
        resolution: Resolution,
        actor: str,
        now: datetime,
        reason: str | None = None,
    ) -> None:
        """Close the item. A retried item's waiting events were applied: they go; a
        skipped item keeps them, as the record of what was not applied."""
        await cur.execute(
            "UPDATE ledgerflow_set_aside SET resolution = %s, resolved_by = %s,"
            " resolved_at = %s, reason = %s WHERE id = %s",
            (resolution, actor, now, reason, item.id),
        )
        if resolution is Resolution.RETRIED:
            await cur.execute(
                "DELETE FROM ledgerflow_set_aside_waiting WHERE item_id = %s", (item.id,)
            )

    async def done(
        self,
        cur: AsyncCursor[Any],
        request: Request,
        now: datetime,
        outcome: Outcome,
        *,
        applied: int | None = None,
        error: str | None = None,
    ) -> None:
        await cur.execute(
            "UPDATE ledgerflow_set_aside_actions SET done_at = %s, outcome = %s, applied = %s,"
            " error = %s WHERE id = %s",
            (now, outcome, applied, error, request.id),
        )

    async def close_for_rebuild(
        self, conn: AsyncConnection[Any], actor: str, now: datetime
    ) -> None:
        """A rebuild applies the log again from the start: the open items are closed
        (what still fails is set aside anew), requests still waiting with them."""
        await conn.execute(
            "UPDATE ledgerflow_set_aside_actions SET done_at = %s, outcome = %s"
            " WHERE done_at IS NULL AND item_id IN (SELECT id FROM ledgerflow_set_aside"
            "  WHERE follower = %s AND upstream = %s AND resolved_at IS NULL)",
            (now, Outcome.SUPERSEDED, self.follower, self.upstream),
        )
        await conn.execute(
            "UPDATE ledgerflow_set_aside SET resolution = %s, resolved_by = %s,"
            " resolved_at = %s WHERE follower = %s AND upstream = %s AND resolved_at IS NULL",
            (Resolution.REBUILT, actor, now, self.follower, self.upstream),
        )
