"""PostgreSQL adapters for the messaging ports: used when no `AMQP_URL` is configured.

Command queue: one row per message in `ledgerflow_queue_messages`. A consumer claims rows
with `FOR UPDATE SKIP LOCKED` and, in the same committed statement, pushes `available_at`
one lease into the future. The row is deleted (acknowledged) only after the handler has
returned; while the handler runs a heartbeat keeps extending the lease. A consumer that
dies mid-handler stops extending it, so the message becomes visible again after the lease.

Event bus: an append-only log `ledgerflow_bus_messages` ordered by `position`, and one
row per durable subscriber holding the position it has handled up to. Publishers take a
transaction-level advisory lock, so positions become visible in commit order and a reader
never skips a position that commits later.

Both wake on LISTEN/NOTIFY and fall back to polling about once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from adapters.postgres import SCHEMA_LOCK_KEY, create_schema
from domain.messaging import (
    DeadLetter,
    Message,
    MessageHandler,
    PoisonMessage,
    dead_letter_queue_name,
)

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "ledgerflow_queue"
BUS_CHANNEL = "ledgerflow_bus"
_PUBLISH_LOCK = 0x1ED6E5F11  # advisory lock making bus positions commit in order

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledgerflow_queue_messages (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    delivery_count integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledgerflow_queue_messages_ready
    ON ledgerflow_queue_messages (queue, available_at, id);

CREATE TABLE IF NOT EXISTS ledgerflow_dead_letters (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    routing_key text NOT NULL DEFAULT '',
    reason text NOT NULL,
    dead_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledgerflow_dead_letters_queue ON ledgerflow_dead_letters (queue, id);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_messages (
    position bigserial PRIMARY KEY,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_subscriptions (
    subscriber text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
"""


async def ensure_schema(database_url: str) -> None:
    """Create the messaging tables if missing; safe to call from many processes at once."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await create_schema(conn, SCHEMA)


def ensure_schema_sync(database_url: str) -> None:
    """`ensure_schema` for synchronous callers (CLI, migrations)."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        conn.execute(SCHEMA)


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


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value)
    return {str(k): str(v) for k, v in (value or {}).items()}


def _message(row: Mapping[str, Any]) -> Message:
    return Message(
        body=bytes(row["body"]),
        message_id=row["message_id"],
        correlation_id=row["correlation_id"],
        headers=_headers(row["headers"]),
        routing_key=row.get("routing_key") or "",
    )


async def _wait_for(event: asyncio.Event, seconds: float) -> bool:
    """True if `event` was set within `seconds`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


class _Waker:
    """LISTENs on a dedicated connection and sets `event` for notifications of interest.

    The connection is used by nothing else, so it never has to share psycopg's lock with a
    query. Lost notifications only cost latency: callers also poll.
    """

    def __init__(self, database_url: str, channel: str, payload: str | None) -> None:
        self._url = database_url
        self._channel = channel
        self._payload = payload
        self.event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._done.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self.event.set()  # catch up on anything sent before LISTEN
                    while not self._done.is_set():
                        async for notify in conn.notifies(timeout=0.5):
                            if self._payload is None or notify.payload == self._payload:
                                self.event.set()
            except psycopg.Error as error:
                log.warning("LISTEN %s failed, retrying: %s", self._channel, error)
                await _wait_for(self._done, 1.0)

    async def stop(self) -> None:
        self._done.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._task


class _PoolOwner:
    def __init__(self, database_url: str, *, max_connections: int) -> None:
        self._url = database_url
        self._pool = AsyncConnectionPool(
            database_url,
            min_size=1,
            max_size=max_connections,
            max_idle=30,  # many processes share one server: give burst connections back
            open=False,
            kwargs={"autocommit": True},
        )
        self._opened = False
        self._open_lock = asyncio.Lock()

    async def _ready(self) -> AsyncConnectionPool:
        if not self._opened:
            async with self._open_lock:
                if not self._opened:
                    await self._pool.open(wait=True)
                    await ensure_schema(self._url)
                    self._opened = True
        return self._pool

    async def close(self) -> None:
        await self._pool.close()


class PostgresCommandQueue(_PoolOwner):
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

    async def _handle(self, queue: str, row: dict[str, Any], handler: MessageHandler) -> None:
        message = _message(row)
        try:
            await handler(message)
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

    async def consume(self, queue: str, handler: MessageHandler, stop: asyncio.Event) -> None:
        """Claim and handle messages until `stop` is set, then wait for running handlers.

        If this task is cancelled instead, running handlers are cancelled and their
        messages are neither acked nor released: they come back after the lease, exactly
        as if the process had died.
        """
        await self._ready()
        waker = _Waker(self._url, QUEUE_CHANNEL, queue)
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
                    await _wait_for(stop, 0.05)  # wait for a slot
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
        return await _dead_letters(await self._ready(), dead_letter_queue_name(queue), limit)

    async def pending(self, queue: str) -> int:
        """Messages still on `queue` (ready or leased); for tests and operators."""
        pool = await self._ready()
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM ledgerflow_queue_messages WHERE queue = %s", (queue,)
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0


async def _dead_letters(pool: AsyncConnectionPool, queue: str, limit: int) -> list[DeadLetter]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT message_id, correlation_id, headers, body, routing_key, reason"
            " FROM ledgerflow_dead_letters WHERE queue = %s ORDER BY id LIMIT %s",
            (queue, limit),
        )
        rows = await cur.fetchall()
    return [DeadLetter(message=_message(row), reason=row["reason"]) for row in rows]


class PostgresEventBus(_PoolOwner):
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
        return await _dead_letters(await self._ready(), f"{subscriber}.dead", limit)

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
                        await _wait_for(stop, self.poll_interval)
                        continue
                    await self._follow(conn, subscriber, pattern, handler, stop)
            except psycopg.OperationalError as error:
                log.warning("subscriber %s lost its connection: %s", subscriber, error)
                await _wait_for(stop, self.poll_interval)

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
        message = _message(event)
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
                if await _wait_for(stop, self.retry_delay):
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
