"""Everything across the workflows that waits for a human, as one list: work parked when
its retry budget ran out, applications and invoices that need attention, payments that
failed (each read model says which rows: `ParkedRows`), events a follower set aside
(`ledgerflow_set_aside`) and messages the messaging dead-lettered, from the dead-letter
desk of whichever backend it runs on (`adapters.messaging.dead_letter_desk`).

The same list serves `GET /status/attention`, `ledgerflow attention` and the console.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.sql import SQL, Identifier
from psycopg_pool import AsyncConnectionPool

from adapters.messaging.dead_letter_desk import DeadLetterDesk, DeadLettersUnavailable
from projections.parked import ParkedRows

log = logging.getLogger(__name__)

COMMAND_QUEUE_PREFIX = "ledgerflow.commands."


class AttentionKind(StrEnum):
    """Why a row is on the list; the first three are the read models' own words."""

    PARKED = "parked"
    NEEDS_ATTENTION = "needs_attention"
    PAYMENT_FAILED = "payment_failed"
    SET_ASIDE = "set_aside"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class AttentionItem:
    workflow: str
    kind: AttentionKind
    key: str  # what its actions take: an aggregate id, an invoice number, an item's id
    aggregate_id: UUID | None  # whose timeline it belongs to (none for a dead letter)
    reason: str | None
    last_error: str | None
    since: datetime  # when it started waiting
    source: str = ""  # where it waits: a read model's table, a follower, a queue


@dataclass(frozen=True)
class AttentionFilter:
    workflow: str | None = None
    kind: AttentionKind | None = None
    reason: str | None = None  # a part of the reason, any case
    key: str | None = None  # one item: its key, or its aggregate's id

    def admits(self, item: AttentionItem) -> bool:
        return (
            (self.workflow is None or item.workflow == self.workflow)
            and (self.key is None or self.key in (item.key, str(item.aggregate_id)))
            and (self.kind is None or item.kind is self.kind)
            and (
                not self.reason
                or self.reason.casefold() in (item.reason or "").casefold()
                or self.reason.casefold() in (item.last_error or "").casefold()
            )
        )


@dataclass(frozen=True)
class AttentionReader:
    pool: AsyncConnectionPool[Any]
    parked: Sequence[ParkedRows]
    dead_letters: DeadLetterDesk | None = None  # None: no dead letters listed

    async def items(
        self, only: AttentionFilter = AttentionFilter(), *, limit: int | None = 500
    ) -> list[AttentionItem]:
        """What waits, oldest first: at most `limit` of each source (None: all)."""
        return await attention(self.pool, self.parked, self.dead_letters, only, limit=limit)


async def attention(
    pool: AsyncConnectionPool[Any],
    parked: Sequence[ParkedRows],
    dead_letters: DeadLetterDesk | None,
    only: AttentionFilter = AttentionFilter(),
    *,
    limit: int | None = 500,
) -> list[AttentionItem]:
    found: list[AttentionItem] = []
    async with pool.connection() as conn:
        for rows in parked:
            if only.workflow not in (None, rows.workflow) or only.kind not in (None, rows.state):
                continue
            found += await _parked(conn, rows, limit)
        if only.kind in (None, AttentionKind.SET_ASIDE):
            found += await _set_aside(conn, limit)
    if dead_letters is not None and only.kind in (None, AttentionKind.DEAD_LETTER):
        found += await _dead_letters(dead_letters, limit)
    return sorted((item for item in found if only.admits(item)), key=lambda item: item.since)


async def _parked(
    conn: AsyncConnection[Any], rows: ParkedRows, limit: int | None
) -> list[AttentionItem]:
    if not await _exists(conn, rows.table):
        return []
    cur = await conn.execute(
        SQL(
            "SELECT {key}, id, {reason}, {error}, updated_at FROM {table} WHERE {condition}"
            " ORDER BY updated_at LIMIT %s"
        ).format(
            key=SQL(rows.key),
            reason=SQL(rows.reason),
            error=SQL(rows.error),
            table=Identifier(rows.table),
            condition=SQL(rows.condition),
        ),
        (limit,),
    )
    return [
        AttentionItem(
            rows.workflow, AttentionKind(rows.state), key, aggregate, reason, error, at, rows.table
        )
        for key, aggregate, reason, error, at in await cur.fetchall()
    ]


async def _set_aside(conn: AsyncConnection[Any], limit: int | None) -> list[AttentionItem]:
    if not await _exists(conn, "ledgerflow_set_aside"):
        return []
    cur = await conn.execute(
        "SELECT id, upstream, follower, aggregate_id, topic, error_type, error, set_aside_at"
        " FROM ledgerflow_set_aside WHERE resolved_at IS NULL ORDER BY id LIMIT %s",
        (limit,),
    )
    return [
        AttentionItem(
            log,
            AttentionKind.SET_ASIDE,
            str(item_id),
            aggregate_id,
            f"{follower} could not apply {topic.rpartition('.')[2]}",
            f"{error_type}: {error}",
            at,
            follower,
        )
        for item_id, log, follower, aggregate_id, topic, error_type, error, at in (
            await cur.fetchall()
        )
    ]


async def _dead_letters(desk: DeadLetterDesk, limit: int | None) -> list[AttentionItem]:
    try:
        letters = await desk.letters(limit)
    except DeadLettersUnavailable:
        # The rest of the list is what operators need most while the broker is down.
        log.warning("dead letters left out of the attention list", exc_info=True)
        return []
    return [
        AttentionItem(
            workflow_of(letter.queue),
            AttentionKind.DEAD_LETTER,
            letter.key,
            None,
            letter.reason,
            None,
            letter.dead_at,
            letter.queue,
        )
        for letter in letters
    ]


def workflow_of(queue: str) -> str:
    """The workflow a command queue serves (`ledgerflow.commands.sms` -> sms); a bus
    subscriber's queue is the messaging's own."""
    if queue.startswith(COMMAND_QUEUE_PREFIX):
        return queue.removeprefix(COMMAND_QUEUE_PREFIX).split(".")[0]
    return "messaging"


async def _exists(conn: AsyncConnection[Any], table: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cur.fetchone()
    return bool(row and row[0])
