"""Operators' decisions on the dead letters PostgreSQL keeps (`ledgerflow_dead_letters`):
replay one, after a fix, or discard it.

A command queue's dead letter (`<queue>.dead`) is replayed by putting the message back on
its queue, as it was sent, in the same transaction that removes the dead letter: it is
neither lost nor doubled. A bus subscriber's dead letter has no queue to go back to (the
PostgreSQL bus delivers by position), so it can only be discarded.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from adapters.messaging.postgres.command_queue import QUEUE_CHANNEL
from domain.errors import ConflictError, NotFoundError
from domain.messaging import dead_letter_queue_name

DEAD_SUFFIX = dead_letter_queue_name("")
COMMAND_QUEUES = "ledgerflow.commands."


class DeadLetterNotFound(NotFoundError):
    code = "dead_letter_not_found"

    def __init__(self, letter_id: int) -> None:
        super().__init__(f"no dead letter {letter_id}")


class DeadLetterNotReplayable(ConflictError):
    code = "dead_letter_not_replayable"

    def __init__(self, queue: str) -> None:
        super().__init__(f"{queue} is a bus subscriber's: its dead letters can only be discarded")


class DeadLetterDesk:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def replay(self, letter_id: int) -> str:
        """Put the message back on its command queue; answers the queue."""
        async with self.pool.connection() as conn, conn.transaction():
            queue = await _locked_queue(conn, letter_id)
            original = queue.removesuffix(DEAD_SUFFIX)
            if not original.startswith(COMMAND_QUEUES):
                raise DeadLetterNotReplayable(queue)
            await conn.execute(
                "INSERT INTO ledgerflow_queue_messages"
                " (queue, message_id, correlation_id, headers, body)"
                " SELECT %s, message_id, correlation_id, headers, body"
                " FROM ledgerflow_dead_letters WHERE id = %s",
                (original, letter_id),
            )
            await conn.execute("DELETE FROM ledgerflow_dead_letters WHERE id = %s", (letter_id,))
            await conn.execute("SELECT pg_notify(%s, %s)", (QUEUE_CHANNEL, original))
            return original

    async def discard(self, letter_id: int) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await _locked_queue(conn, letter_id)
            await conn.execute("DELETE FROM ledgerflow_dead_letters WHERE id = %s", (letter_id,))


def replayable(queue: str) -> bool:
    return queue.removesuffix(DEAD_SUFFIX).startswith(COMMAND_QUEUES)


async def _locked_queue(conn: AsyncConnection[Any], letter_id: int) -> str:
    cur = await conn.execute(
        "SELECT queue FROM ledgerflow_dead_letters WHERE id = %s FOR UPDATE", (letter_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise DeadLetterNotFound(letter_id)
    return str(row[0])
