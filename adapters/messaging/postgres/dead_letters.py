"""The dead-letter desk of the PostgreSQL messaging: the dead letters it keeps in
`ledgerflow_dead_letters`, each keyed by its row's id.

A command queue's dead letter (`<queue>.dead`) is replayed by putting the message back on
its queue, as it was sent, in the same transaction that removes the dead letter and
records the decision: it is neither lost nor doubled, nor decided on unrecorded. A bus
subscriber's dead letter has no queue to go back to (the PostgreSQL bus delivers by
position), so it can only be discarded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.messaging.dead_letter_desk import (
    DeadLetterNotFound,
    DeadLetterNotReplayable,
    Decided,
    DecisionPage,
    Verdict,
    WaitingLetter,
    replayable,
)
from adapters.messaging.postgres import dead_letter_decisions
from adapters.messaging.postgres.command_queue import QUEUE_CHANNEL
from domain.access import Actor


class PostgresDeadLetterDesk:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def letters(self, limit: int | None = 500) -> list[WaitingLetter]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, queue, message_id, reason, dead_at FROM ledgerflow_dead_letters"
                " ORDER BY id LIMIT %s",
                (limit,),
            )
            return [
                WaitingLetter(str(key), queue, message_id, reason, at)
                for key, queue, message_id, reason, at in await cur.fetchall()
            ]

    async def replay(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        async with self.pool.connection() as conn, conn.transaction():
            decided = await _locked(conn, key, "replay")
            if not replayable(decided.queue):
                raise DeadLetterNotReplayable(decided.queue)
            await conn.execute(
                "INSERT INTO ledgerflow_queue_messages"
                " (queue, message_id, correlation_id, headers, body)"
                " SELECT %s, message_id, correlation_id, headers, body"
                " FROM ledgerflow_dead_letters WHERE id = %s",
                (decided.back_on, int(key)),
            )
            await conn.execute("DELETE FROM ledgerflow_dead_letters WHERE id = %s", (int(key),))
            await dead_letter_decisions.record(conn, decided, actor, now, note)
            await conn.execute("SELECT pg_notify(%s, %s)", (QUEUE_CHANNEL, decided.back_on))
            return decided

    async def discard(
        self, key: str, actor: Actor, now: datetime, note: str | None = None
    ) -> Decided:
        async with self.pool.connection() as conn, conn.transaction():
            decided = await _locked(conn, key, "discard")
            await conn.execute("DELETE FROM ledgerflow_dead_letters WHERE id = %s", (int(key),))
            await dead_letter_decisions.record(conn, decided, actor, now, note)
            return decided

    async def decisions(self, limit: int, cursor: str | None = None) -> DecisionPage:
        return await dead_letter_decisions.recent(self.pool, limit, cursor)


async def _locked(conn: AsyncConnection[Any], key: str, decision: Verdict) -> Decided:
    if not key.isdecimal() or int(key) >= 2**63:
        raise DeadLetterNotFound(key)
    cur = await conn.execute(
        "SELECT queue, message_id FROM ledgerflow_dead_letters WHERE id = %s FOR UPDATE",
        (int(key),),
    )
    row = await cur.fetchone()
    if row is None:
        raise DeadLetterNotFound(key)
    return Decided(str(int(key)), str(row[0]), str(row[1]), decision)
