"""`CommandQueue` on PostgreSQL: one row per message in `ledgerflow_queue_messages`.

A consumer claims rows with `FOR UPDATE SKIP LOCKED` and, in the same committed statement,
pushes `available_at` one lease into the future. The row is deleted (acknowledged) only
after the handler has returned; while the handler runs a heartbeat keeps extending the
lease. A consumer that dies mid-handler stops extending it, so the message becomes visible
again after the lease. Consumers wake on a NOTIFY naming their queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from adapters.messaging.postgres.pool import PoolOwner
from adapters.messaging.postgres.rows import message_of, read_dead_letters
from adapters.messaging.postgres.waking import Waker, wait_for
from domain.messaging import (
    CommandHandler,
    DeadLetter,
    Message,
    PoisonMessage,
    dead_letter_queue_name,
    deliver_command,
)

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "ledgerflow_queue"


class PostgresCommandQueue(PoolOwner):
    """`CommandQueue` on PostgreSQL; several consumer processes may share one queue.

    `lease`: how long a claimed message stays invisible to other consumers without a
    heartbeat (a crashed consumer's message reappears after it). `retry_delay`: how long a
    message that failed transiently waits before its next delivery. `prefetch`: handlers
    running at once per `consume` call.
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_connections: int = 3,
        lease: float = 30.0,
        retry_delay: float = 1.0,
        prefetch: int = 16,
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(database_url, max_connections=max_connections)
        self.lease = lease
        self.retry_delay = retry_delay
        self.prefetch = prefetch
        self.poll_interval = poll_interval

    async def send(self, queue: str, message: Message) -> None:
        pool = await self._ready()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO ledgerflow_queue_messages"
                " (queue, message_id, correlation_id, headers, body)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    queue,
                    message.message_id,
                    message.correlation_id,
                    Jsonb(dict(message.headers)),
                    message.body,
                ),
            )
            await conn.execute("SELECT pg_notify(%s, %s)", (QUEUE_CHANNEL, queue))

    async def _claim(self, queue: str, limit: int) -> list[dict[str, Any]]:
        pool = await self._ready()
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                """
                WITH claimed AS (
                    SELECT id FROM ledgerflow_queue_messages
                    WHERE queue = %(queue)s AND available_at <= now()
                    ORDER BY available_at, id
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE ledgerflow_queue_messages m
                SET available_at = now() + make_interval(secs => %(lease)s),
                    delivery_count = m.delivery_count + 1
                FROM claimed WHERE m.id = claimed.id
                RETURNING m.id, m.message_id, m.correlation_id, m.headers, m.body
                """,
                {"queue": queue, "limit": limit, "lease": self.lease},
            )
            rows = await cur.fetchall()
        return sorted(rows, key=lambda row: row["id"])

    async def _extend_leases(self, in_flight: set[int]) -> None:
        """Heartbeat: keep the messages whose handlers are still running invisible."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if not in_flight:
                continue
            try:
                pool = await self._ready()
                async with pool.connection() as conn:
                    await conn.execute(
                        "UPDATE ledgerflow_queue_messages"
                        " SET available_at = now() + make_interval(secs => %s)"
                        " WHERE id = ANY(%s)",
                        (self.lease, list(in_flight)),
                    )
            except psycopg.Error as error:  # the lease may lapse: at-least-once still holds
                log.warning("could not extend message leases: %s", error)

    async def _handle(self, queue: str, row: dict[str, Any], handler: CommandHandler) -> None:
        message = message_of(row)
        try:
            await deliver_command(message, handler)
        except PoisonMessage as poison:
            await self._dead_letter(queue, row["id"], poison.reason)
            return
        except Exception:
            log.exception(
                "handler failed for message %s on %s; will retry", message.message_id, queue
            )
            await self._release(row["id"])
            return
        pool = await self._ready()
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM ledgerflow_queue_messages WHERE id = %s", (row["id"],))

    async def _release(self, message_row: int) -> None:
        pool = await self._ready()
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE ledgerflow_queue_messages"
                " SET available_at = now() + make_interval(secs => %s) WHERE id = %s",
                (self.retry_delay, message_row),
            )

    async def _dead_letter(self, queue: str, message_row: int, reason: str) -> None:
        pool = await self._ready()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO ledgerflow_dead_letters"
                " (queue, message_id, correlation_id, headers, body, reason)"
                " SELECT %s, message_id, correlation_id, headers, body, %s"
                " FROM ledgerflow_queue_messages WHERE id = %s",
                (dead_letter_queue_name(queue), reason, message_row),
            )
            await conn.execute(
                "DELETE FROM ledgerflow_queue_messages WHERE id = %s", (message_row,)
            )

    async def consume(self, queue: str, handler: CommandHandler, stop: asyncio.Event) -> None:
        """Claim and handle messages until `stop` is set, then wait for running handlers.

        If this task is cancelled instead, running handlers are cancelled and their
        messages are neither acked nor released: they come back after the lease, exactly
        as if the process had died.
        """
        await self._ready()
        waker = Waker(self._url, QUEUE_CHANNEL, queue)
        await waker.start()
        in_flight: set[int] = set()
        tasks: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self.prefetch)
        heartbeat = asyncio.create_task(self._extend_leases(in_flight))

        async def run(row: dict[str, Any]) -> None:
            try:
                await self._handle(queue, row, handler)
            except psycopg.Error as error:  # the lease brings it back
                log.warning("could not settle message %s: %s", row["message_id"], error)
            finally:
                in_flight.discard(row["id"])
                slots.release()

        try:
            while not stop.is_set():
                waker.event.clear()
                free = self.prefetch - len(in_flight)
                rows: list[dict[str, Any]] = []
                if free > 0:
                    try:
                        rows = await self._claim(queue, free)
                    except psycopg.Error as error:
                        log.warning("claiming from %s failed: %s", queue, error)
                for row in rows:
                    await slots.acquire()
                    in_flight.add(row["id"])
                    task = asyncio.create_task(run(row))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if rows and len(rows) == free:
                    continue  # there may be more ready right now
                if free <= 0:
                    await wait_for(stop, 0.05)  # wait for a slot
                    continue
                waiters = [
                    asyncio.create_task(waker.event.wait()),
                    asyncio.create_task(stop.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in waiters:
                    waiter.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in list(tasks):
                task.cancel()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await waker.stop()

    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        """Dead letters of `queue` (stored under `dead_letter_queue_name(queue)`)."""
        return await read_dead_letters(await self._ready(), dead_letter_queue_name(queue), limit)

    async def pending(self, queue: str) -> int:
        """Messages still on `queue` (ready or leased); for tests and operators."""
        pool = await self._ready()
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM ledgerflow_queue_messages WHERE queue = %s", (queue,)
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0
