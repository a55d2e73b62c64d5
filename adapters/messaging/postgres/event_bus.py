"""`EventBus` on PostgreSQL: an append-only log `ledgerflow_bus_messages` ordered by
`position`, and one row per durable subscriber holding the position it has handled up to.

Publishers take a transaction-level advisory lock, so positions become visible in commit
order and a reader never skips a position that commits later. Subscribers wake on a
NOTIFY on the bus channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from adapters.messaging.postgres.pool import PoolOwner
from adapters.messaging.postgres.rows import message_of, read_dead_letters
from adapters.messaging.postgres.waking import wait_for
from domain.messaging import DeadLetter, Message, MessageHandler, PoisonMessage

log = logging.getLogger(__name__)

BUS_CHANNEL = "ledgerflow_bus"
_PUBLISH_LOCK = 0x1ED6E5F11  # advisory lock making bus positions commit in order


def topic_regex(binding_keys: Sequence[str]) -> str:
    """An anchored regex (valid in Python and PostgreSQL) matching `'.' || routing_key`.

    AMQP topic semantics: `*` is exactly one word, `#` zero or more words. Prefixing every
    word with its dot lets `#` match zero words without special cases at either end.
    """
    alternatives = []
    for key in binding_keys:
        parts = []
        for word in key.split("."):
            if word == "#":
                parts.append(r"(?:\.[^.]*)*")
            elif word == "*":
                parts.append(r"\.[^.]*")
            else:
                parts.append(
                    r"\." + "".join(c if c.isalnum() or c == "_" else "\\" + c for c in word)
                )
        alternatives.append("".join(parts))
    return "^(?:" + "|".join(alternatives) + ")$" if alternatives else "^(?!)$"


class PostgresEventBus(PoolOwner):
    """`EventBus` on PostgreSQL: a log plus a position per durable subscriber.

    Handlers are called one at a time in publication order. A transient failure retries
    the same event in place after `retry_delay` (so order is kept); a `PoisonMessage` is
    stored as a dead letter under `f"{subscriber}.dead"` and the subscriber moves on.
    Only one consumer per subscriber name is active: it holds a session advisory lock on
    its own connection; others wait and retry.
    """

    def __init__(
        self,
        database_url: str,
        *,
        max_connections: int = 2,
        retry_delay: float = 1.0,
        poll_interval: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        super().__init__(database_url, max_connections=max_connections)
        self.retry_delay = retry_delay
        self.poll_interval = poll_interval
        self.batch_size = batch_size

    async def publish(self, message: Message) -> None:
        await self.publish_many([message])

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """One transaction for the lot: positions follow the order given."""
        if not messages:
            return
        pool = await self._ready()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PUBLISH_LOCK,))
            await conn.cursor().executemany(
                "INSERT INTO ledgerflow_bus_messages"
                " (routing_key, message_id, correlation_id, headers, body)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        message.routing_key,
                        message.message_id,
                        message.correlation_id,
                        Jsonb(dict(message.headers)),
                        message.body,
                    )
                    for message in messages
                ],
            )
            await conn.execute("SELECT pg_notify(%s, '')", (BUS_CHANNEL,))

    async def dead_letters(self, subscriber: str, limit: int = 100) -> Sequence[DeadLetter]:
        """Events `subscriber` rejected as poison, oldest first."""
        return await read_dead_letters(await self._ready(), f"{subscriber}.dead", limit)

    async def subscribe(
        self,
        subscriber: str,
        binding_keys: Sequence[str],
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> None:
        await self._ready()
        pattern = topic_regex(binding_keys)
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    if not await self._lock(conn, subscriber):
                        await wait_for(stop, self.poll_interval)
                        continue
                    await self._follow(conn, subscriber, pattern, handler, stop)
            except psycopg.OperationalError as error:
                log.warning("subscriber %s lost its connection: %s", subscriber, error)
                await wait_for(stop, self.poll_interval)

    @staticmethod
    async def _lock(conn: psycopg.AsyncConnection[Any], subscriber: str) -> bool:
        cur = await conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended('ledgerflow.subscriber:' || %s, 0))",
            (subscriber,),
        )
        row = await cur.fetchone()
        return bool(row and row[0])

    async def _follow(
        self,
        conn: psycopg.AsyncConnection[Any],
        subscriber: str,
        pattern: str,
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> None:
        """Runs on the connection holding the lock, so losing the lock stops the work."""
        await conn.execute(
            "INSERT INTO ledgerflow_bus_subscriptions (subscriber) VALUES (%s)"
            " ON CONFLICT DO NOTHING",
            (subscriber,),
        )
        cur = await conn.execute(
            "SELECT position FROM ledgerflow_bus_subscriptions WHERE subscriber = %s", (subscriber,)
        )
        row = await cur.fetchone()
        position = int(row[0]) if row else 0
        await conn.execute(f"LISTEN {BUS_CHANNEL}")
        while not stop.is_set():
            async with conn.cursor(row_factory=dict_row) as rows_cur:
                # One statement, one snapshot: `head` is safe to skip to when the batch
                # is short, because publishers commit positions in order.
                await rows_cur.execute(
                    """
                    SELECT m.position, m.routing_key, m.message_id, m.correlation_id,
                           m.headers, m.body, h.head
                    FROM (SELECT coalesce(max(position), 0) AS head
                          FROM ledgerflow_bus_messages) h
                    LEFT JOIN LATERAL (
                        SELECT * FROM ledgerflow_bus_messages
                        WHERE position > %(position)s AND ('.' || routing_key) ~ %(pattern)s
                        ORDER BY position LIMIT %(limit)s
                    ) m ON true
                    ORDER BY m.position
                    """,
                    {"position": position, "pattern": pattern, "limit": self.batch_size},
                )
                rows = await rows_cur.fetchall()
            events = [r for r in rows if r["position"] is not None]
            head = int(rows[0]["head"]) if rows else position
            for event in events:
                if not await self._deliver(conn, subscriber, event, handler, stop):
                    return
                position = int(event["position"])
            if len(events) < self.batch_size and head > position:
                position = head
                await self._advance(conn, subscriber, position)
            if len(events) == self.batch_size:
                continue
            deadline = asyncio.get_running_loop().time() + self.poll_interval
            while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
                notified = False
                async for _ in conn.notifies(timeout=0.2, stop_after=1):
                    notified = True
                if notified:
                    break

    async def _deliver(
        self,
        conn: psycopg.AsyncConnection[Any],
        subscriber: str,
        event: dict[str, Any],
        handler: MessageHandler,
        stop: asyncio.Event,
    ) -> bool:
        """Handle one event and record it; False if `stop` came first (not recorded)."""
        message = message_of(event)
        while True:
            try:
                await handler(message)
            except PoisonMessage as poison:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO ledgerflow_dead_letters (queue, message_id,"
                        " correlation_id, headers, body, routing_key, reason)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (
                            f"{subscriber}.dead",
                            message.message_id,
                            message.correlation_id,
                            Jsonb(dict(message.headers)),
                            message.body,
                            message.routing_key,
                            poison.reason,
                        ),
                    )
                    await self._advance(conn, subscriber, int(event["position"]))
                return True
            except Exception:
                log.exception(
                    "subscriber %s failed on %s; retrying", subscriber, message.message_id
                )
                if await wait_for(stop, self.retry_delay):
                    return False
                continue
            await self._advance(conn, subscriber, int(event["position"]))
            return True

    @staticmethod
    async def _advance(conn: psycopg.AsyncConnection[Any], subscriber: str, position: int) -> None:
        await conn.execute(
            "UPDATE ledgerflow_bus_subscriptions SET position = %s"
            " WHERE subscriber = %s AND position < %s",
            (position, subscriber, position),
        )
